"""Sign-in links for the web desk, sent by the running bot to a case worker's own chat.

Asked for with `/web` at the Telegram desk, or by the admin command line's
`caseworker web-link ID` (a note in the bot's inbox): either way the link goes only to the
worker's own Telegram chat, the one thing that proves who they are.
"""

from __future__ import annotations

import logging

from counsel_bot.cases.model import CaseWorker
from counsel_bot.cases.signin import LINK_LIFETIME, SignInLinks
from counsel_bot.engine.effects import Send
from counsel_bot.runtime.casework import Casework

log = logging.getLogger(__name__)


class WebLinks:
    def __init__(self, casework: Casework, links: SignInLinks) -> None:
        self.casework = casework
        self.links = links

    @property
    def minutes(self) -> int:
        return int(LINK_LIFETIME.total_seconds() // 60)

    def issue(self, worker: CaseWorker, source: str) -> str | None:
        """A new link for the worker (audited), or None when the desk's URL is unknown."""
        link = self.links.issue(worker.telegram_id)
        if link is None:
            log.warning("a web desk link was asked for, but no desk URL is known (start "
                        "`counsel-bot web` or set COUNSEL_BOT_WEB_URL)")
            return None
        self.casework.audit("web_link_issued", actor=f"caseworker:{worker.telegram_id}",
                            why="casework", by=worker.telegram_id, kind=source)
        return link

    def send(self, telegram_id: int, key: str) -> bool:
        """Issue a link and queue it for the worker's own chat; False if there is none."""
        worker = self.casework.registry.caseworker(telegram_id)
        if worker is None:
            log.warning("a web desk link was asked for an unknown case worker")
            return False
        link = self.issue(worker, "admin")
        context = self.casework.context
        tr = context.translator(worker.language)
        system = context.dialogs.system
        if link is None:
            text = tr(system["cw_web_unavailable"])
        else:
            text = tr(system["cw_web_link"], link=tr.ltr(link), period=tr.minutes(self.minutes))
        self.casework.chats.to_worker(worker, Send(text, rtl=tr.rtl, protect=True), key=key)
        return link is not None

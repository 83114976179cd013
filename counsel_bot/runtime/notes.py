"""Acting on the notes the admin command line and the web desk leave in the bot's inbox.

Each note names what changed (a session, a check-in plan, a closure, a reopening, an
erasure, an alert acknowledged at the web desk) or what is asked (a sign-in link for the web
desk); the bot acts on the store's current state. A note whose action fails is kept and
tried again at the next look; acting twice is harmless (everything it sends has a key). On
PostgreSQL several bot instances read one inbox: each note is taken by one of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from counsel_bot.runtime.care import Care
from counsel_bot.runtime.casework import SESSION_KINDS, Casework
from counsel_bot.runtime.closing import Closing
from counsel_bot.runtime.inbox import NoteBox
from counsel_bot.runtime.weblinks import WebLinks

log = logging.getLogger(__name__)

NoteHandler = Callable[[dict[str, Any]], Awaitable[None]]


class NoteReader:
    def __init__(self, inbox: NoteBox, casework: Casework, care: Care, closing: Closing,
                 weblinks: WebLinks | None = None) -> None:
        self.inbox = inbox
        self.casework = casework
        self.care = care
        self.closing = closing
        self.handlers: dict[str, NoteHandler] = {
            "session": self._session,
            "checkins": self._checkins,
            "closed": lambda note: closing.case_closed(str(note["case_id"])),
            "reopened": lambda note: closing.case_reopened(str(note["case_id"])),
            "erased": self._erased,
            "alert_acknowledged": self._alert_acknowledged,
            "web_link": self._web_link,
        }
        self.weblinks = weblinks

    async def _session(self, note: dict[str, Any]) -> None:
        if note.get("kind") not in SESSION_KINDS:
            raise ValueError("a session note of an unknown kind")
        await self.casework.session_changed(str(note["session_id"]), str(note["kind"]))

    async def _checkins(self, note: dict[str, Any]) -> None:
        await asyncio.to_thread(self.care.plan_checkins, str(note["case_id"]))

    async def _erased(self, note: dict[str, Any]) -> None:
        self.closing.forget_schedule(str(note["case_id"]))

    async def _alert_acknowledged(self, note: dict[str, Any]) -> None:
        # The deadline handler re-reads the alert's status anyway; this drops the item early.
        self.casework.scheduler.cancel_tag(f"alert:{note['alert_id']}")

    async def _web_link(self, note: dict[str, Any]) -> None:
        if self.weblinks is None:
            raise RuntimeError("this bot sends no web desk links")
        await asyncio.to_thread(self.weblinks.send, int(note["caseworker"]),
                                f"weblink:{note['nonce']}")

    async def read(self) -> int:
        """Act on the waiting notes; returns how many were handled."""
        handled = 0
        for path, note in await asyncio.to_thread(self.inbox.take):
            handler = self.handlers.get(str(note.get("type")))
            if handler is None:
                log.warning("inbox: a note of an unknown type is set aside")
                self.inbox.done(path)
                continue
            try:
                await handler(note)
            except Exception:
                log.exception("inbox: acting on a %s note failed; it is kept for the next look",
                              note.get("type"))
                self.inbox.keep(path)
                continue
            self.inbox.done(path)
            handled += 1
        return handled

    async def watch(self, interval: float = 1.0) -> None:
        while True:
            await self.read()
            await asyncio.sleep(interval)

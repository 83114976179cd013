"""Counselling sessions as the returnee reads them: notices, reminders, changes."""

from __future__ import annotations

from counsel_bot.cases.model import Session
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import Button, Priority, Send
from counsel_bot.engine.state import Conversation

ANSWER_CHOICES = {"confirm": "confirmed", "change": "change_requested", "decline": "declined"}


def _timezone(state: Conversation, ctx: EngineContext) -> str:
    if state.timezone:
        return state.timezone
    return ctx.case.timezone if ctx.case else "UTC"


def session_details(session: Session, state: Conversation, ctx: EngineContext) -> str:
    tr = ctx.translator(state.language)
    notice = ctx.dialogs.questions.session_notice  # the office's template
    where = (tr(notice.place, place=session.place) if session.place
             else tr(notice.online, link=tr.ltr(session.online or "")))
    text = tr(notice.text, when=tr.when(session.starts, _timezone(state, ctx)),
              where=where, duration=tr.minutes(session.duration))
    if session.interpreter:
        text += "\n" + tr(notice.interpreter,
                          language=tr.language_in_own_words(session.interpreter))
    return text


def answer_buttons(session: Session, state: Conversation,
                   ctx: EngineContext) -> tuple[tuple[Button, ...], ...]:
    tr = ctx.translator(state.language)
    system = ctx.dialogs.system
    return tuple((Button(tr(system[f"session_{choice}"]),
                         f"session:{session.session_id}:{choice}"),)
                 for choice in ANSWER_CHOICES)


def session_event_message(kind: str, session: Session, first: bool, state: Conversation,
                          ctx: EngineContext) -> Send:
    tr = ctx.translator(state.language)
    system = ctx.dialogs.system
    if kind == "cancelled":
        when = tr.when(session.starts, _timezone(state, ctx))
        return Send(tr(system["session_cancelled"], when=when), rtl=tr.rtl, protect=True)
    details = session_details(session, state, ctx)
    heading = {"moved": "session_moved", "reminder_day": "session_reminder_day",
               "reminder_hour": "session_reminder_hour"}.get(kind)
    parts = [tr(system[heading])] if heading else []
    parts.append(details)
    if first and kind == "scheduled":
        parts.append(tr(ctx.dialogs.questions.session_notice.first))
    priority = Priority.BULK if kind.startswith("reminder") else Priority.REPLY
    return Send("\n\n".join(parts), buttons=answer_buttons(session, state, ctx), rtl=tr.rtl,
                protect=True, priority=priority)

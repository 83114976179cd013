"""The end of support, as the returnee lives it: a closing message, where to turn next, a
short final evaluation, and each referral offered on its own.

After a death nothing is ever said to the chat again. /stop ends contact after one gentle,
optional question; /start opens it again with fresh consent.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from counsel_bot.engine.effects import (
    Button,
    RecordEvaluation,
    ReferralAnswer,
    RequestErasure,
    Send,
    StopContact,
)
from counsel_bot.engine.inbound import CaseClosed
from counsel_bot.engine.render import privacy_overview, text_version
from counsel_bot.engine.state import ConsentAnswer
from counsel_bot.engine.turn import Turn
from counsel_bot.i18n.catalogs import language_name

if TYPE_CHECKING:
    from counsel_bot.config.deployment import Partner

MET, MISSING, SUPPORT, COMMENT, REFERRAL = (
    "closure.met", "closure.missing", "closure.support", "closure.comment", "closure.referral")
STOP, DELETE = "contact.stop", "contact.delete"
POSITIONS = (MET, MISSING, SUPPORT, COMMENT, REFERRAL, STOP, DELETE)
STOP_REASONS = ("no_need", "elsewhere", "privacy", "moved")


def _say(turn: Turn, text: str, rows: list[tuple[Button, ...]] | None = None,
         protect: bool = False) -> None:
    tr = turn.ctx.translator(turn.state.language)
    turn.effects.append(Send(text, tuple(rows or ()), rtl=tr.rtl, protect=protect))


def _t(turn: Turn, name: str, **values: object) -> str:
    return turn.ctx.translator(turn.state.language)(turn.ctx.dialogs.system[name], **values)


def _skip(turn: Turn, position: str) -> tuple[Button, ...]:
    return (Button(_t(turn, "checkin_skip"), f"{position}:skip"),)


def _q(turn: Turn, text: str, **values: object) -> str:
    """One of the office's questions (questions.yaml), in the returnee's language."""
    return turn.ctx.translator(turn.state.language)(text, **values)


def on_closed(turn: Turn, event: CaseClosed) -> None:
    state = turn.state
    state.closed = event.reason
    state.checkin = None
    if event.reason == "deceased":
        state.position = None
        return  # never another word to this chat
    country = turn.ctx.deployment.country(state.country)
    tr = turn.ctx.translator(state.language)
    organisation = tr.content(turn.ctx.deployment.organisation)
    office = country.office
    services = "\n".join(f"• {tr.content(s.name)}: {tr.content(s.description)}"
                         for s in country.services)
    contact = f"{tr.content(office.name)}, {tr.ltr(office.phone)}"
    _say(turn, f"{_t(turn, 'closure_message', organisation=organisation)}\n\n"
               f"{_t(turn, 'closure_next')}\n{services}\n• {contact}", protect=True)
    state.closure = {"met": None, "missing": [], "support": None, "referral": 0}
    _say(turn, _q(turn, turn.ctx.dialogs.questions.evaluation.intro))
    _ask_met(turn)


def _ask_met(turn: Turn) -> None:
    turn.state.position = MET
    met = turn.ctx.dialogs.questions.evaluation.met
    rows = [(Button(_q(turn, met.label(v)), f"{MET}:{v}"),) for v in ("yes", "partly", "no")]
    _say(turn, _q(turn, met.question), [*rows, _skip(turn, MET)])


def _ask_missing(turn: Turn) -> None:
    turn.state.position = MISSING
    chosen = set((turn.state.closure or {}).get("missing", []))
    questions = turn.ctx.dialogs.questions
    rows = [(Button(("✓ " if n.code in chosen else "") + _q(turn, n.label),
                    f"{MISSING}:{n.code}"),) for n in questions.checkin.needs.options]
    rows.append((Button(_q(turn, questions.checkin.needs.done), f"{MISSING}:done"),))
    _say(turn, _q(turn, questions.evaluation.missing), rows)


def _ask_support(turn: Turn) -> None:
    turn.state.position = SUPPORT
    questions = turn.ctx.dialogs.questions
    rows = [(Button(_q(turn, label), f"{SUPPORT}:{n}"),)
            for n, label in enumerate(questions.checkin.scale, 1)]
    _say(turn, _q(turn, questions.evaluation.support), [*rows, _skip(turn, SUPPORT)])


def _ask_comment(turn: Turn) -> None:
    turn.state.position = COMMENT
    _say(turn, _q(turn, turn.ctx.dialogs.questions.evaluation.comment), [_skip(turn, COMMENT)])


def on_press(turn: Turn, action: str) -> bool:
    position, _, choice = action.partition(":")
    state = turn.state
    if position != state.position or position not in POSITIONS:
        return False
    if position == STOP:
        stop(turn, choice if choice in STOP_REASONS else None)
        return True
    if position == DELETE:
        if choice == "yes" and state.case_id:
            turn.effects.append(RequestErasure(state.case_id))
            _say(turn, _t(turn, "delete_requested", period=_period(turn)))
        state.position = None
        turn.enter(turn.ctx.dialogs.start_of("info").key)
        return True
    closure = state.closure
    if closure is None:
        return False
    if position == MET:
        closure["met"] = choice if choice in ("yes", "partly", "no") else None
        _ask_missing(turn) if choice in ("partly", "no") else _ask_support(turn)
    elif position == MISSING:
        if choice == "done":
            _ask_support(turn)
        elif choice in turn.ctx.dialogs.questions.needs:
            missing = closure["missing"]
            missing.remove(choice) if choice in missing else missing.append(choice)
            _ask_missing(turn)
        else:
            return False
    elif position == SUPPORT:
        closure["support"] = int(choice) if choice.isdigit() and 1 <= int(choice) <= 5 else None
        _ask_comment(turn)
    elif position == COMMENT and choice == "skip":
        finish_evaluation(turn, None)
    elif position == REFERRAL and choice in ("yes", "no"):
        answer_referral(turn, choice == "yes")
    else:
        return False
    return True


def finish_evaluation(turn: Turn, comment: str | None) -> None:
    closure = turn.state.closure or {}
    if turn.state.case_id:
        turn.effects.append(RecordEvaluation(turn.state.case_id, closure.get("met"),
                                             tuple(closure.get("missing", [])),
                                             closure.get("support"), comment))
    _say(turn, _q(turn, turn.ctx.dialogs.questions.evaluation.thanks))
    offer_next_referral(turn)


def _partners(turn: Turn) -> tuple[Partner, ...]:
    return turn.ctx.deployment.country(turn.state.country).referral_partners


def _referral_text(turn: Turn, index: int) -> str:
    tr = turn.ctx.translator(turn.state.language)
    partner = _partners(turn)[index]
    return _q(turn, turn.ctx.dialogs.questions.referral.offer, partner=tr.content(partner.name),
              description=tr.content(partner.description))


def offer_next_referral(turn: Turn) -> None:
    closure = turn.state.closure or {}
    index = closure.get("referral", 0)
    if index >= len(_partners(turn)) or turn.state.case_id is None:
        _say(turn, _t(turn, "closure_goodbye"))
        turn.state.closure = None
        turn.state.position = None
        return
    turn.state.position = REFERRAL
    referral = turn.ctx.dialogs.questions.referral
    _say(turn, _referral_text(turn, index),
         [(Button(_q(turn, referral.yes), f"{REFERRAL}:yes"),
           Button(_q(turn, referral.no), f"{REFERRAL}:no"))], protect=True)


def answer_referral(turn: Turn, granted: bool) -> None:
    state = turn.state
    closure = state.closure or {}
    index = closure.get("referral", 0)
    partner = _partners(turn)[index]
    answer = ConsentAnswer(purpose=f"referral:{partner.code}", granted=granted,
                           at=turn.ctx.now.isoformat(), language=state.language or "en",
                           version=text_version(_referral_text(turn, index)))
    state.consents[answer.purpose] = answer
    state.consent_log.append(answer)
    assert state.case_id is not None
    turn.effects.append(ReferralAnswer(state.case_id, partner.code, granted))
    tr = turn.ctx.translator(state.language)
    referral = turn.ctx.dialogs.questions.referral
    _say(turn, _q(turn, referral.shared if granted else referral.not_shared,
                  partner=tr.content(partner.name)))
    closure["referral"] = index + 1
    offer_next_referral(turn)


# -- /stop, /mydata, /delete -------------------------------------------------------------
def ask_stop(turn: Turn) -> None:
    turn.state.position = STOP
    rows = [(Button(_t(turn, f"stop_reason_{r}"), f"{STOP}:{r}"),) for r in STOP_REASONS]
    _say(turn, _t(turn, "stop_ask"), [*rows, _skip(turn, STOP)])


def stop(turn: Turn, reason: str | None) -> None:
    state = turn.state
    turn.effects.append(StopContact(state.case_id, reason))
    state.stopped = True
    state.position = None
    state.checkin = None
    _say(turn, _t(turn, "stop_done"))


def _period(turn: Turn) -> str:
    return turn.ctx.translator(turn.state.language).days(turn.ctx.deployment.erasure_days)


def ask_delete(turn: Turn) -> None:
    if turn.state.case_id is None:
        _say(turn, _t(turn, "delete_nothing"))
        return
    turn.state.position = DELETE
    _say(turn, _t(turn, "delete_ask", period=_period(turn)),
         [(Button(_t(turn, "delete_yes"), f"{DELETE}:yes"),),
          (Button(_t(turn, "cancel"), f"{DELETE}:cancel"),)])


def my_data(turn: Turn) -> None:
    """A readable summary, in the person's language, of everything stored about them."""
    state = turn.state
    tr = turn.ctx.translator(state.language)
    lines = [_t(turn, "mydata_heading"),
             _t(turn, "mydata_language", language=language_name(state.language or "en"))]
    privacy = turn.ctx.dialogs.start_of("privacy")
    lines.append(privacy_overview(privacy, state, turn.ctx).text)
    case = turn.ctx.case
    if case is None or state.case_id is None:
        lines.append(_t(turn, "mydata_no_case"))
    else:
        lines.append(_t(turn, "mydata_case", case_id=tr.ltr(case.case_id),
                        date=tr.date(datetime.fromisoformat(case.created_at), case.timezone)))
        lines.append(_t(turn, "mydata_sessions", count=tr.number(len(case.sessions))))
        lines.append(_t(turn, "mydata_checkins", count=tr.number(len(case.checkins))))
        lines.append(_t(turn, "mydata_alerts", count=tr.number(len(case.alerts))))
    lines.append(_t(turn, "mydata_more"))
    _say(turn, "\n".join(lines), protect=True)

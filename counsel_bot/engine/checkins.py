"""The check-in: how are you (1 to 5), what is pressing (several), are you safe, anything
else (optional).

Each answer is a button; the comment is free text, screened like any other. Snoozing asks
again tomorrow. The answers go to the case file as one RecordCheckin effect. The wording,
the scale's labels and the needs offered are the office's data (`questions.checkin` of
dialogs/questions.yaml, or of the deployment's copy); this code only asks them in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from counsel_bot.engine.effects import Button, Priority, RecordCheckin, Send, SnoozeCheckin
from counsel_bot.engine.inbound import CheckinDue
from counsel_bot.engine.safety import help_button, on_safety_answer, respond, safety_buttons
from counsel_bot.engine.turn import Turn
from counsel_bot.screening.screener import screen_checkin

if TYPE_CHECKING:
    from counsel_bot.engine.questions import Checkin
    from counsel_bot.i18n.catalogs import Translator

SCORE, NEEDS_STEP, COMMENT = "checkin.score", "checkin.needs", "checkin.comment"
SAFETY = "checkin.safety"  # one direct, structured question: are you safe right now?
POSITIONS = (SCORE, NEEDS_STEP, SAFETY, COMMENT)


def _tr(turn: Turn) -> Translator:
    return turn.ctx.translator(turn.state.language)


def _questions(turn: Turn) -> Checkin:
    return turn.ctx.dialogs.questions.checkin


def ask_score(turn: Turn, due: CheckinDue) -> None:
    if turn.state.case_id is None or not turn.state.has_consent("checkins"):
        return  # no consent, no check-in: nothing is sent
    tr = _tr(turn)
    asked = _questions(turn)
    if turn.state.position not in POSITIONS:
        turn.state.return_to = turn.state.position
    turn.state.position = SCORE
    turn.state.checkin = {"id": due.checkin_id, "score": None, "needs": []}
    rows = [(Button(tr(label), f"{SCORE}:{n}"),) for n, label in enumerate(asked.scale, 1)]
    rows.append((Button(tr(asked.snooze), f"{SCORE}:snooze"),))
    rows.append(help_button(turn))
    text = tr(asked.reminder if due.reminder else asked.question)
    turn.effects.append(Send(text, tuple(rows), rtl=tr.rtl, protect=True,
                             priority=Priority.BULK))


def _needs_message(turn: Turn) -> Send:
    tr = _tr(turn)
    needs = _questions(turn).needs
    chosen = set((turn.state.checkin or {}).get("needs", []))
    rows = [(Button(("✓ " if need.code in chosen else "") + tr(need.label),
                    f"{NEEDS_STEP}:{need.code}"),) for need in needs.options]
    rows.append((Button(tr(needs.done), f"{NEEDS_STEP}:done"),))
    return Send(tr(needs.question), tuple(rows), rtl=tr.rtl, protect=True)


def on_press(turn: Turn, action: str) -> bool:
    """Handle a check-in button; False when it is not one for the current question."""
    position, _, choice = action.partition(":")
    checkin = turn.state.checkin
    if position != turn.state.position or position not in POSITIONS or checkin is None:
        return False
    tr = _tr(turn)
    asked = _questions(turn)
    case_id = turn.state.case_id
    if position == SCORE:
        if choice == "snooze" and case_id:
            turn.effects.append(SnoozeCheckin(case_id, checkin["id"]))
            turn.effects.append(Send(tr(asked.snoozed), rtl=tr.rtl))
            _leave(turn)
            return True
        if not choice.isdigit() or not 1 <= int(choice) <= 5:
            return False
        checkin["score"] = int(choice)
        turn.state.position = NEEDS_STEP
        turn.effects.append(_needs_message(turn))
        return True
    if position == NEEDS_STEP:
        if choice == "done":
            turn.state.position = SAFETY
            turn.effects.append(Send(tr(asked.safety), safety_buttons(turn, SAFETY),
                                     rtl=tr.rtl, protect=True))
            return True
        if choice not in turn.ctx.dialogs.questions.needs:
            return False
        needs = checkin["needs"]
        needs.remove(choice) if choice in needs else needs.append(choice)
        turn.effects.append(_needs_message(turn))
        return True
    if position == SAFETY:
        if choice not in ("yes", "no", "talk"):
            return False
        checkin["safe"] = choice
        if choice != "yes":  # not safe, or wants to talk: the urgent path at once
            on_safety_answer(turn, f"{SAFETY}:{choice}")
        turn.state.position = COMMENT
        turn.effects.append(Send(tr(asked.comment),
                                 ((Button(tr(asked.skip), f"{COMMENT}:skip"),),),
                                 rtl=tr.rtl))
        return True
    if choice == "skip":
        finish(turn, None)
        return True
    return False


def finish(turn: Turn, comment: str | None) -> None:
    """Record the answers, screen them, thank, and go back to where the person was."""
    checkin = turn.state.checkin
    case_id = turn.state.case_id
    if checkin is None or case_id is None or checkin.get("score") is None:
        _leave(turn)
        return
    needs = tuple(checkin["needs"])
    turn.effects.append(RecordCheckin(case_id, checkin["id"], checkin["score"], needs, comment,
                                      checkin.get("safe")))
    tr = _tr(turn)
    turn.effects.append(Send(tr(_questions(turn).thanks), rtl=tr.rtl))
    respond(turn, screen_checkin(checkin["score"], needs), None)
    _leave(turn)


def _leave(turn: Turn) -> None:
    turn.state.checkin = None
    turn.state.position = None
    target = turn.state.return_to
    turn.state.return_to = None
    if target and target in turn.ctx.dialogs.steps:
        turn.state.position = target  # quietly back; the next message shows where they are

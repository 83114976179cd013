"""Answering danger: a calm reply with the configured emergency contacts at once, and an
alert for the case worker when consent (or, for urgent danger, vital interest) allows.

The returnee always gets the contacts, whatever their consents; the alert carries only
what the effect allows (see RaiseAlert).
"""

from __future__ import annotations

from counsel_bot.engine.effects import Button, Priority, RaiseAlert, Send
from counsel_bot.engine.turn import Turn
from counsel_bot.screening.screener import ScreeningResult

HELP_ACTION = "help:now"
SAFE_ACTIONS = ("safety:yes", "safety:no")


def contacts_text(turn: Turn) -> str:
    tr = turn.ctx.translator(turn.state.language)
    country = turn.ctx.deployment.country(turn.state.country)
    return "\n".join(f"• {tr(c.name)}: {tr.ltr(c.phone)}" for c in country.emergency_contacts)


def alert_justification(turn: Turn, severity: str) -> str | None:
    """Why an alert may go to the case worker, or None when it may not."""
    state = turn.state
    if state.case_id is None:
        return None
    if state.has_consent("safety_alerts"):
        return "consent"
    if severity == "urgent" and turn.ctx.deployment.vital_interest_alerts:
        return "vital_interest"
    return None


def respond(turn: Turn, result: ScreeningResult, text: str | None) -> None:
    """Reply to a screened signal; raise the alert it allows."""
    system = turn.ctx.dialogs.system
    tr = turn.ctx.translator(turn.state.language)
    severity = result.severity
    if severity == "none":  # a negated signal: no reply, a quiet note for review
        if result.review and alert_justification(turn, "high") == "consent":
            assert turn.state.case_id is not None
            turn.effects.append(RaiseAlert(turn.state.case_id, "review", result.categories,
                                           "consent", text))
        return
    justification = alert_justification(turn, severity)
    parts = [tr(system[f"safety_{severity}"]), contacts_text(turn)]
    if justification == "consent":
        parts.append(tr(system["safety_told"]))
    elif justification == "vital_interest":
        parts.append(tr(system["safety_told_vital"]))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if severity == "urgent":
        parts.append(tr(system["safety_ask"]))
        buttons = ((Button(tr(system["safety_yes"]), SAFE_ACTIONS[0]),
                    Button(tr(system["safety_no"]), SAFE_ACTIONS[1])),)
    turn.effects.append(Send("\n\n".join(parts), buttons, rtl=tr.rtl, protect=True,
                             priority=Priority.URGENT))
    if justification is not None:
        assert turn.state.case_id is not None
        turn.effects.append(RaiseAlert(turn.state.case_id, severity, result.categories,
                                       justification, text))


def on_safety_answer(turn: Turn, action: str) -> None:
    system = turn.ctx.dialogs.system
    tr = turn.ctx.translator(turn.state.language)
    if action == "safety:yes":
        turn.effects.append(Send(tr(system["safety_glad"]), rtl=tr.rtl))
        return
    turn.effects.append(Send(f"{tr(system['safety_not_safe'])}\n{contacts_text(turn)}",
                             rtl=tr.rtl, protect=True, priority=Priority.URGENT))
    justification = alert_justification(turn, "urgent")
    if justification is not None:
        assert turn.state.case_id is not None
        turn.effects.append(RaiseAlert(turn.state.case_id, "urgent", ("not_safe",),
                                       justification))


def help_button(turn: Turn) -> tuple[Button, ...]:
    tr = turn.ctx.translator(turn.state.language)
    return (Button(tr(turn.ctx.dialogs.system["help_now"]), HELP_ACTION),)

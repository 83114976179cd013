"""Answering danger: a calm reply with the configured emergency contacts at once, and an
alert for the case worker when consent (or, for urgent danger, vital interest) allows.

The returnee always gets the contacts, whatever their consents; the alert carries only
what the effect allows (see RaiseAlert).
"""

from __future__ import annotations

from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import Button, Priority, RaiseAlert, Send, WatchSafety
from counsel_bot.engine.render import contact_lines
from counsel_bot.engine.turn import Turn
from counsel_bot.screening.screener import ScreeningResult

HELP_ACTION = "help:now"
SAFE, NOT_SAFE, TALK = "safety:yes", "safety:no", "safety:talk"
SAFE_ACTIONS = (SAFE, NOT_SAFE, TALK)
WATCH_MINUTES = 10  # a probable-urgent "check" with no answer by then alerts as high


def safety_buttons(turn: Turn, prefix: str = "safety") -> tuple[tuple[Button, ...], ...]:
    """I am safe / I am not safe / I want to talk to someone (one per row: long labels)."""
    tr = turn.ctx.translator(turn.state.language)
    system = turn.ctx.dialogs.system
    return ((Button(tr(system["safety_answer_safe"]), f"{prefix}:yes"),),
            (Button(tr(system["safety_answer_not_safe"]), f"{prefix}:no"),),
            (Button(tr(system["safety_answer_talk"]), f"{prefix}:talk"),))


def ask_if_safe(turn: Turn, result: ScreeningResult) -> None:
    """The ``check`` level: ask directly and kindly; with probable urgent danger, the case
    worker is alerted if no answer comes in time."""
    tr = turn.ctx.translator(turn.state.language)
    check_id = "S-" + turn.ctx.now.strftime("%Y%m%d%H%M%S%f")
    turn.state.safety_check = check_id
    turn.effects.append(Send(tr(turn.ctx.dialogs.system["safety_check"]), safety_buttons(turn),
                             rtl=tr.rtl, protect=True, priority=Priority.URGENT))
    justification = alert_justification(turn, "high")
    if result.probable_urgent and justification is not None:
        assert turn.state.case_id is not None
        turn.effects.append(WatchSafety(turn.state.case_id, check_id, result.categories,
                                        justification, turn.ctx.now.isoformat(),
                                        WATCH_MINUTES))


def contacts_text(turn: Turn) -> str:
    country = turn.ctx.deployment.country(turn.state.country)
    return contact_lines(turn.ctx, country, turn.state.language)


def contacts_without_state(ctx: EngineContext, language: str) -> str:
    """The emergency contacts when the person's file cannot be read: under the heading, and
    named by country when the deployment serves several."""
    tr = ctx.translator(language)
    countries = list(ctx.deployment.countries.values())
    heading = tr(ctx.dialogs.system["emergency_heading"])
    if len(countries) == 1:
        return f"{heading}\n{contact_lines(ctx, countries[0], language)}"
    return heading + "".join(f"\n{tr.content(c.name)}\n{contact_lines(ctx, c, language)}"
                             for c in countries)


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
    if severity == "check":
        ask_if_safe(turn, result)
        return
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
        buttons = safety_buttons(turn)
    turn.effects.append(Send("\n\n".join(parts), buttons, rtl=tr.rtl, protect=True,
                             priority=Priority.URGENT))
    if justification is not None:
        assert turn.state.case_id is not None
        turn.effects.append(RaiseAlert(turn.state.case_id, severity, result.categories,
                                       justification, text))


def on_safety_answer(turn: Turn, action: str) -> None:
    """"Safe": glad. "Not safe" or "talk to someone": the urgent path, the emergency
    contacts at once and the alert."""
    system = turn.ctx.dialogs.system
    tr = turn.ctx.translator(turn.state.language)
    turn.state.safety_check = None  # answered: no alert for the lack of an answer
    if action.endswith(":yes"):
        turn.effects.append(Send(tr(system["safety_glad"]), rtl=tr.rtl))
        return
    talk = action.endswith(":talk")
    parts = [tr(system["safety_talk_reply" if talk else "safety_not_safe"]), contacts_text(turn)]
    justification = alert_justification(turn, "urgent")
    if justification == "consent":
        parts.append(tr(system["safety_told"]))
    elif justification == "vital_interest":
        parts.append(tr(system["safety_told_vital"]))
    turn.effects.append(Send("\n".join(parts[:2]) + "".join(f"\n\n{p}" for p in parts[2:]),
                             rtl=tr.rtl, protect=True, priority=Priority.URGENT))
    if justification is not None:
        assert turn.state.case_id is not None
        turn.effects.append(RaiseAlert(turn.state.case_id, "urgent",
                                       ("talk_requested" if talk else "not_safe",),
                                       justification))


def help_button(turn: Turn) -> tuple[Button, ...]:
    tr = turn.ctx.translator(turn.state.language)
    return (Button(tr(turn.ctx.dialogs.system["help_now"]), HELP_ACTION),)

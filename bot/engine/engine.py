"""The conversation engine: step(state, inbound, context) -> Outcome(state, effects).

Pure: no I/O and no clock. The time comes in the context; the effects go out as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine.context import EngineContext
from bot.engine.dialogs import Step
from bot.engine.effects import Audit, Effect, ForgetPersonalData, Send
from bot.engine.inbound import Command, Inbound, Press, StaleButton, Start, Text, Unsupported
from bot.engine.input_check import MAX_TEXT_LENGTH, problem_with
from bot.engine.render import consent_text, privacy_overview, step_message, text_version
from bot.engine.state import PURPOSES, ConsentAnswer, Conversation
from bot.i18n import language_name

MAX_CHAINED_STEPS = 20  # guards against a message loop a content author might write
WAITING_TYPES = frozenset({"menu", "choose_language", "consent", "privacy"})


@dataclass
class Outcome:
    state: Conversation
    effects: list[Effect] = field(default_factory=list)

    @property
    def sends(self) -> list[Send]:
        return [e for e in self.effects if isinstance(e, Send)]


class _Turn:
    """One turn of the conversation: a working copy of the state and the effects so far."""

    def __init__(self, state: Conversation, ctx: EngineContext) -> None:
        self.state = state.copy()
        self.ctx = ctx
        self.effects: list[Effect] = []

    # -- saying things ---------------------------------------------------------------
    def say(self, name: str, **values: object) -> None:
        tr = self.ctx.translator(self.state.language)
        self.effects.append(Send(self.ctx.system_text(self.state.language, name, **values),
                                 rtl=tr.rtl))

    def show(self, step: Step) -> None:
        if step.type == "privacy":
            self.effects.append(privacy_overview(step, self.state, self.ctx))
        else:
            self.effects.append(step_message(step, self.state, self.ctx))

    def current_step(self) -> Step | None:
        position = self.state.position
        return self.ctx.dialogs.steps.get(position) if position else None

    def repeat_current(self) -> None:
        step = self.current_step()
        if step is not None:
            self.show(step)
        else:
            self.enter(self.ctx.dialogs.start_of("info").key)

    # -- moving ------------------------------------------------------------------------
    def enter(self, key: str, *, language_chosen: bool = False) -> None:
        """Show a step and every message step after it, stopping where an answer is needed."""
        for _ in range(MAX_CHAINED_STEPS):
            step = self.ctx.dialogs.step(key)
            if step.type == "choose_language" and language_chosen and step.next:
                key = step.next
                continue
            self.show(step)
            if step.type in WAITING_TYPES:
                self.state.position = step.key
                return
            assert step.next is not None
            key = step.next
        raise RuntimeError(f"dialog loop from {key}")

    def finish_detour(self, default_next: str) -> None:
        target = self.state.return_to or default_next
        self.state.return_to = None
        self.enter(target)

    # -- handling ----------------------------------------------------------------------
    def handle(self, inbound: Inbound) -> None:
        match inbound:
            case Start():
                self.on_start(inbound)
            case Command():
                self.on_command(inbound)
            case Press():
                self.on_press(inbound.action)
            case Text():
                self.on_text(inbound.text)
            case Unsupported():
                self.say("edited_message" if inbound.kind == "edited" else "unsupported_kind")
            case StaleButton():
                self.say("stale_button")
                self.repeat_current()

    def on_start(self, start: Start) -> None:
        hint = (start.language_hint or "").split("-")[0].lower()
        if hint in self.ctx.deployment.languages and (
            start.language_chosen or not self.state.language
        ):
            self.state.language = hint
        if self.state.language is None:
            self.state.language = self.ctx.deployment.default_language
        self.state.return_to = None
        if "counselling" in self.state.consents:
            self.enter(self.ctx.dialogs.start_of("info").key)
            return
        self.enter(self.ctx.dialogs.start_of("onboarding").key,
                   language_chosen=start.language_chosen and hint == self.state.language)

    def on_command(self, command: Command) -> None:
        name = command.name.lower()
        if self.state.language is None:
            self.state.language = self.ctx.deployment.default_language
        if name == "help":
            self.say("help")
        elif name == "language":
            self.detour("onboarding.language")
        elif name == "privacy":
            self.detour(self.ctx.dialogs.start_of("privacy").key)
        elif name == "menu":
            self.enter(self.ctx.dialogs.start_of("info").key)
        else:
            self.say("unknown_command")

    def detour(self, key: str) -> None:
        position = self.state.position
        if position and position != key and self.state.return_to is None:
            self.state.return_to = position
        self.enter(key)

    def on_text(self, text: str) -> None:
        problem = problem_with(text)
        if problem:
            self.say(problem, limit=self.ctx.translator(self.state.language).number(
                MAX_TEXT_LENGTH))
            return
        step = self.current_step()
        if step is not None:
            action = self._action_for_label(step, text)
            if action:
                self.on_press(action)
                return
        self.say("not_understood")
        self.repeat_current()

    def _action_for_label(self, step: Step, text: str) -> str | None:
        wanted = text.strip().casefold()
        message = (privacy_overview(step, self.state, self.ctx) if step.type == "privacy"
                   else step_message(step, self.state, self.ctx))
        for row in message.buttons:
            for button in row:
                if button.label.casefold() == wanted or button.action.endswith(f":{wanted}"):
                    return button.action
        return None

    def on_press(self, action: str) -> None:
        step = self.current_step()
        key, _, choice = action.partition(":")
        if step is None or key != step.key:
            self.say("stale_button")
            self.repeat_current()
            return
        handler = {
            "menu": self.on_menu,
            "choose_language": self.on_language,
            "consent": self.on_consent,
            "privacy": self.on_privacy,
        }[step.type]
        handler(step, choice)

    def on_menu(self, step: Step, choice: str) -> None:
        if not choice.isdigit() or int(choice) >= len(step.options):
            self.say("stale_button")
            self.repeat_current()
            return
        self.enter(step.options[int(choice)].goto)

    def on_language(self, step: Step, choice: str) -> None:
        if choice not in self.ctx.deployment.languages:
            self.say("stale_button")
            self.repeat_current()
            return
        self.state.language = choice
        self.say("language_set", language=language_name(choice))
        assert step.next is not None
        self.finish_detour(step.next)

    def on_consent(self, step: Step, choice: str) -> None:
        if choice not in ("yes", "no"):
            self.say("stale_button")
            self.repeat_current()
            return
        granted = choice == "yes"
        self.record_consent(step, granted)
        if step.purpose == "counselling" and not granted:
            self.forget_personal_data()
        self.finish_detour(step.get("on_accept") if granted else step.get("on_decline"))

    def record_consent(self, step: Step, granted: bool, withdrawal: bool = False) -> None:
        assert step.purpose is not None and self.state.language is not None
        answer = ConsentAnswer(
            purpose=step.purpose, granted=granted, at=self.ctx.now.isoformat(),
            language=self.state.language,
            version=text_version(consent_text(step, self.state, self.ctx)),
            withdrawal=withdrawal,
        )
        self.state.consents[step.purpose] = answer
        self.state.consent_log.append(answer)
        event = "consent_withdrawn" if withdrawal else "consent_answered"
        self.effects.append(Audit(event, {"purpose": step.purpose, "granted": granted,
                                          "version": answer.version}))

    def forget_personal_data(self) -> None:
        self.state.timezone = None
        self.effects.append(ForgetPersonalData())

    def on_privacy(self, step: Step, choice: str) -> None:
        verb, _, purpose = choice.partition(":")
        purposes = step.get("purposes")
        if verb == "close":
            self.finish_detour(step.next or step.key)
            return
        if purpose not in PURPOSES or purpose not in purposes or verb not in ("withdraw", "give"):
            self.say("stale_button")
            self.repeat_current()
            return
        consent_step = self.ctx.dialogs.consent_step(purpose)
        name = self.ctx.translator(self.state.language)(purposes[purpose])
        if verb == "withdraw":
            if not self.state.has_consent(purpose):
                self.show(step)
                return
            self.record_consent(consent_step, granted=False, withdrawal=True)
            self.say("consent_withdrawn", purpose=name)
            if purpose == "counselling":
                self.forget_personal_data()
                self.say("counselling_withdrawn_effect")
            self.show(step)
            return
        # Giving consent means reading the full text first: show the consent step, then return.
        self.state.return_to = step.key
        self.state.position = consent_step.key
        self.show(consent_step)


def step(state: Conversation, inbound: Inbound, ctx: EngineContext) -> Outcome:
    """Advance one conversation by one input."""
    turn = _Turn(state, ctx)
    turn.handle(inbound)
    return Outcome(turn.state, turn.effects)

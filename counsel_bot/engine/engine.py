"""The conversation engine: step(state, inbound, context) -> Outcome(state, effects).

Pure: no I/O and no clock. The time comes in the context; the effects go out as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from counsel_bot.engine import checkins, closure, safety
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.dialogs import Step
from counsel_bot.engine.effects import (
    AnswerSession,
    Audit,
    Button,
    ConsentChanged,
    Effect,
    ForgetPersonalData,
    NotifyCaseWorker,
    ReopenCase,
    Send,
)
from counsel_bot.engine.inbound import (
    CaseClosed,
    CheckinDue,
    Command,
    ConversationLost,
    Edited,
    Inbound,
    Joined,
    Press,
    SessionEvent,
    StaleButton,
    Start,
    Text,
    Unsupported,
)
from counsel_bot.engine.input_check import MAX_TEXT_LENGTH, problem_with
from counsel_bot.engine.render import consent_text, privacy_overview, step_message, text_version
from counsel_bot.engine.sessions import ANSWER_CHOICES, session_event_message
from counsel_bot.engine.state import PURPOSES, ConsentAnswer, Conversation
from counsel_bot.engine.turn import Turn
from counsel_bot.i18n.catalogs import language_name
from counsel_bot.screening.screener import screen_help_request

SUGGESTING = "session.suggest"  # the position while the returnee writes other times
LANGUAGE_STEP = "onboarding.language"  # the choose_language step: /language, the offer
CASEWORKER_COMMANDS = frozenset({"cases", "case", "newcase", "schedule", "close"})


@dataclass
class Outcome:
    state: Conversation
    effects: list[Effect] = field(default_factory=list)

    @property
    def sends(self) -> list[Send]:
        return [e for e in self.effects if isinstance(e, Send)]


class _Engine(Turn):
    """The engine's handling of every kind of input, on top of the turn's primitives."""

    # -- handling ----------------------------------------------------------------------
    def handle(self, inbound: Inbound) -> None:
        if self.state.closed == "deceased":
            return  # nothing is ever sent to this chat again
        if self.state.stopped and not isinstance(inbound, Start | ConversationLost):
            danger = isinstance(inbound, Text | Edited) and self.screen(inbound.text)
            if not danger and isinstance(inbound, Text | Edited | Press | Command
                                         | Unsupported | StaleButton):
                self.say("stopped_reply")
            return  # scheduled messages and notices stay unsent
        if self.state.closed and isinstance(inbound, SessionEvent | CheckinDue):
            return
        match inbound:
            case Start():
                self.on_start(inbound)
            case Command():
                self.on_command(inbound)
            case Press():
                self.on_press(inbound.action)
            case Text():
                self.on_text(inbound.text)
            case Edited():
                if not self.screen(inbound.text):
                    self.say("edited_message")
            case Unsupported():
                self.say("edited_message" if inbound.kind == "edited" else "unsupported_kind")
            case ConversationLost():
                self.on_lost(inbound)
            case StaleButton():
                self.say("stale_button")
                self.repeat_current()
            case SessionEvent():
                self.effects.append(session_event_message(
                    inbound.kind, inbound.session, inbound.first, self.state, self.ctx))
            case CheckinDue():
                checkins.ask_score(self, inbound)
            case CaseClosed():
                closure.on_closed(self, inbound)

    def on_start(self, start: Start) -> None:
        if self.state.stopped:  # contact opens again, with fresh consent
            self.state.stopped = False
            self.state.resuming = self.state.case_id is not None
            self.state.consents = {}
            self.state.position = None
        if isinstance(start.invitation, Joined):
            self.join_case(start.invitation)
            start = Start(language_hint=start.invitation.language, invitation=start.invitation)
        hint = (start.language_hint or "").split("-")[0].lower()
        usable = hint in self.ctx.deployment.languages
        if isinstance(start.invitation, str):
            if self.state.language is None:
                self.state.language = hint if usable else self.ctx.deployment.default_language
                self.state.language_guess = not usable
            self.say(f"invitation_{start.invitation}")
        if usable and (start.language_chosen or not self.state.language):
            self.state.language = hint
            self.state.language_guess = False
        if self.state.language is None:
            self.state.language = self.ctx.deployment.default_language
            self.state.language_guess = True  # the first free text may show another
        self.state.return_to = None
        joined = isinstance(start.invitation, Joined)
        answered = "counselling" in self.state.consents
        if self.state.has_consent("counselling") or (answered and not joined):
            self.enter(self.ctx.dialogs.start_of("info").key)
            return
        self.enter(self.ctx.dialogs.start_of("onboarding").key,
                   language_chosen=start.language_chosen and hint == self.state.language)

    def join_case(self, joined: Joined) -> None:
        self.state.case_id = joined.case_id
        self.state.country = joined.country
        self.state.timezone = joined.timezone
        self.state.language = None  # the case's language is preselected, and asked
        self.effects.append(NotifyCaseWorker(joined.case_id, "joined"))
        self.effects.append(Audit("case_joined", {"case_id": joined.case_id}))

    def on_command(self, command: Command) -> None:
        name = command.name.lower()
        if self.state.language is None:
            self.state.language = self.ctx.deployment.default_language
        if name == "help":
            self.say("help")
        elif name == "language":
            self.detour(LANGUAGE_STEP)
        elif name == "privacy":
            self.detour(self.ctx.dialogs.start_of("privacy").key)
        elif name == "menu":
            self.enter(self.ctx.dialogs.start_of("info").key)
        elif name == "sos":
            safety.respond(self, screen_help_request(), None)
        elif name == "stop":
            closure.ask_stop(self)
        elif name == "mydata":
            closure.my_data(self)
        elif name == "delete":
            closure.ask_delete(self)
        elif name in CASEWORKER_COMMANDS:
            self.say("caseworker_only")
        else:
            self.say("unknown_command")

    def on_text(self, text: str) -> None:
        problem = problem_with(text)
        if problem:
            self.say(problem, limit=self.ctx.translator(self.state.language).number(
                MAX_TEXT_LENGTH))
            return
        detected = self.detected_language(text)
        if detected is not None:
            self.offer_language(text, detected)
            return
        answered = self.screen(text)
        if self.state.position == SUGGESTING:
            self.suggest_times(text)
            return
        if self.state.position == checkins.COMMENT:
            checkins.finish(self, text)
            return
        if self.state.position == closure.COMMENT:
            closure.finish_evaluation(self, text)
            return
        if answered and self.state.position in checkins.POSITIONS:
            return  # the safety answer stands; the check-in question stays open
        step = self.current_step()
        if step is not None:
            action = self._action_for_label(step, text)
            if action:
                self.on_press(action)
                return
            if step.type == "write_to_caseworker":
                self.write_to_caseworker(step, text)
                return
        if answered:
            return  # the safety answer was the reply
        self.say("not_understood")
        self.repeat_current()

    def detected_language(self, text: str) -> str | None:
        """On the first free text while the language is only the default, the enabled
        language the text is written in, when it is another one; asked once."""
        if not (self.state.language_guess or self.state.language is None):
            return None
        self.state.language_guess = False
        step = self.current_step()
        if step is not None and self._action_for_label(step, text):
            return None  # a button's label, typed ("Français"): that is the answer
        detector = self.ctx.detector
        found = detector.detect(text) if detector is not None and not problem_with(text) else None
        current = self.state.language or self.ctx.deployment.default_language
        return found if found in self.ctx.deployment.languages and found != current else None

    def offer_language(self, text: str, lang: str) -> None:
        """Offer the detected language first, with the full list, in that language. A message
        that shows distress is answered in it at once: the person must read the numbers."""
        previous = self.state.language
        self.state.language = lang
        if not self.screen(text):
            self.state.language = previous
        step = self.ctx.dialogs.step(LANGUAGE_STEP)
        if self.state.position != step.key and self.state.return_to is None:
            self.state.return_to = self.state.position
        self.state.position = step.key
        tr = self.ctx.translator(lang)
        others = [code for code in self.ctx.deployment.languages if code != lang]
        buttons = tuple((Button(language_name(code), f"{step.key}:{code}"),)
                        for code in (lang, *others))
        self.effects.append(Send(tr(self.ctx.dialogs.system["language_detected"],
                                    language=language_name(lang)),
                                 buttons=buttons, rtl=tr.rtl))

    def screen(self, text: str) -> bool:
        """Screen a message for distress and answer what it shows; True when it did."""
        if problem_with(text) or self.ctx.screener is None:
            return False
        signal = self.ctx.screener.screen(text, self.state.language)
        if signal.severity != "none" or signal.review:
            safety.respond(self, signal, text)
        return signal.severity != "none"  # "check" too: the safety question is the reply

    def on_lost(self, lost: ConversationLost) -> None:
        """The stored conversation was damaged: keep the case link, ask to start again."""
        if lost.closed == "deceased":
            self.state.closed = "deceased"
            return  # the silence holds, for this step and every one after
        hint = (lost.language_hint or "").split("-")[0].lower()
        languages = self.ctx.deployment.languages
        self.state.language = hint if hint in languages else self.ctx.deployment.default_language
        self.state.case_id, self.state.country = lost.case_id, lost.country
        self.state.timezone = lost.timezone
        self.say("conversation_lost")

    def write_to_caseworker(self, step: Step, text: str) -> None:
        """A message for the case worker goes only with counselling consent and a case."""
        if self.state.case_id is None:
            self.say("write_no_case")
        elif not self.state.has_consent("counselling"):
            self.say("write_needs_consent")
            consent = self.ctx.dialogs.consent_step("counselling")
            self.state.return_to = step.next
            self.state.position = consent.key
            self.show(consent)
            return
        else:
            self.effects.append(NotifyCaseWorker(self.state.case_id, "message", {"text": text}))
            self.say("write_sent")
        assert step.next is not None
        self.enter(step.next)

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
        if action.startswith("session:"):
            self.on_session_answer(action)
            return
        if action == safety.HELP_ACTION:
            safety.respond(self, screen_help_request(), None)
            return
        if action in safety.SAFE_ACTIONS:
            safety.on_safety_answer(self, action)
            return
        if action.startswith("checkin.") and checkins.on_press(self, action):
            return
        if action.startswith(("closure.", "contact.")) and closure.on_press(self, action):
            return
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
            "write_to_caseworker": self.on_write_cancel,
        }[step.type]
        handler(step, choice)

    def on_write_cancel(self, step: Step, choice: str) -> None:
        assert step.next is not None
        self.enter(step.next)

    def on_session_answer(self, action: str) -> None:
        _, session_id, choice = action.split(":", 2) if action.count(":") == 2 else ("", "", "")
        case = self.ctx.case
        session = case.session(session_id) if case else None
        if (case is None or session is None or choice not in ANSWER_CHOICES
                or session.status != "scheduled" or session.starts <= self.ctx.now):
            self.say("session_unavailable")
            self.repeat_current()
            return
        answer = ANSWER_CHOICES[choice]
        if answer == "change_requested":
            self.state.pending_session = session_id
            if self.state.position != SUGGESTING:
                self.state.return_to = self.state.position
            self.state.position = SUGGESTING
            self.say("session_suggest")
            return
        self.effects.append(AnswerSession(case.case_id, session_id, answer))
        self.effects.append(NotifyCaseWorker(case.case_id, f"session_{answer}",
                                             {"session_id": session_id}))
        self.say("session_confirmed" if answer == "confirmed" else "session_declined")

    def suggest_times(self, text: str) -> None:
        session_id = self.state.pending_session
        case_id = self.state.case_id
        self.state.pending_session = None
        self.state.position = None
        if session_id and case_id:
            self.effects.append(AnswerSession(case_id, session_id, "change_requested", text))
            self.effects.append(NotifyCaseWorker(case_id, "session_change_requested",
                                                 {"session_id": session_id,
                                                  "suggestion": text}))
            self.say("session_suggested")
        self.finish_detour(self.ctx.dialogs.start_of("info").key)

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
        self.state.language_guess = False
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
        self.effects.append(ConsentChanged(self.state.case_id, step.purpose, granted,
                                           withdrawal))
        if step.purpose == "counselling" and self.state.resuming:
            self.state.resuming = False
            if granted and self.state.case_id is not None:
                self.effects.append(ReopenCase(self.state.case_id))

    def forget_personal_data(self) -> None:
        case_id = self.state.case_id
        self.state.timezone = None
        self.state.case_id = None
        self.state.pending_session = None
        self.effects.append(ForgetPersonalData(case_id))
        if case_id:
            self.effects.append(NotifyCaseWorker(case_id, "consent_declined"))

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
    turn = _Engine(state, ctx)
    turn.handle(inbound)
    return Outcome(turn.state, turn.effects)

"""One turn of a conversation: the public type every sub-flow (check-ins, safety, closure)
works on. It holds a working copy of the state, the context and the effects so far, and the
primitives to say something and to move through a flow; the engine decides what to do.
"""

from __future__ import annotations

from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.dialogs import Step
from counsel_bot.engine.effects import Effect, Send
from counsel_bot.engine.render import privacy_overview, step_message
from counsel_bot.engine.state import Conversation

MAX_CHAINED_STEPS = 20  # guards against a message loop a content author might write
WAITING_TYPES = frozenset({"menu", "choose_language", "consent", "privacy",
                           "write_to_caseworker"})


class Turn:
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

    def detour(self, key: str) -> None:
        """Go to `key` now and come back to where the person was afterwards."""
        position = self.state.position
        if position and position != key and self.state.return_to is None:
            self.state.return_to = position
        self.enter(key)

"""Drive the pure engine as a table: inputs in, effects out, state carried along."""

from __future__ import annotations

from dataclasses import dataclass, field

from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import Effect, Send
from counsel_bot.engine.engine import step
from counsel_bot.engine.inbound import Inbound
from counsel_bot.engine.state import Conversation


@dataclass
class Chat:
    context: EngineContext
    state: Conversation = field(default_factory=Conversation)
    last: list[Effect] = field(default_factory=list)

    def __call__(self, inbound: Inbound) -> list[Send]:
        outcome = step(self.state, inbound, self.context)
        self.state, self.last = outcome.state, outcome.effects
        return outcome.sends

    @property
    def sends(self) -> list[Send]:
        return [e for e in self.last if isinstance(e, Send)]

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.last if isinstance(e, Send)]

    @property
    def actions(self) -> tuple[str, ...]:
        sends = [e for e in self.last if isinstance(e, Send) and e.buttons]
        return sends[-1].actions if sends else ()

"""Effects to the code that carries them out: one table per phase, one handler per type.

The engine returns effects as data. Where each one is carried out is written down once, in a
table, rather than in if/elif chains spread over the runtime:

- the *record* phase, inside the chat's store transaction (what goes into the case file);
- the *after* phase, once that transaction has committed (alerts, schedules, notices).

An effect that reaches a table with no handler for its type is a programming error: it is
raised, never dropped in silence (a forgotten alert would be the worst kind of bug). The
tests check that every effect the engine can emit has a handler somewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

C = TypeVar("C")
E = TypeVar("E")


class UnhandledEffect(LookupError):
    """An effect reached a dispatcher with no handler for its type."""


class EffectDispatcher(Generic[C]):
    """Maps each effect type to exactly one handler `handler(effect, context) -> result`."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self._handlers: dict[type, Callable[[Any, C], Any]] = {}

    def on(self, kind: type[E], handler: Callable[[E, C], Any]) -> None:
        if kind in self._handlers:
            raise ValueError(f"{self.phase}: {kind.__name__} already has a handler")
        self._handlers[kind] = handler

    def handles(self, kind: type) -> bool:
        return kind in self._handlers

    @property
    def kinds(self) -> frozenset[type]:
        return frozenset(self._handlers)

    def dispatch(self, effect: Any, context: C) -> Any:
        handler = self._handlers.get(type(effect))
        if handler is None:
            raise UnhandledEffect(f"{self.phase}: no handler for {type(effect).__name__}")
        return handler(effect, context)

    def dispatch_all(self, effects: Iterable[Any], context: C) -> list[Any]:
        return [self.dispatch(effect, context) for effect in effects]


@dataclass(frozen=True)
class AfterStep:
    """What an after-phase handler knows about the step whose effect it carries out.

    `key` is unique to the step (an update, a scheduled item) and stable when the step is
    carried out again after a crash: handlers derive their dedupe keys from it, so a
    repeated step queues nothing twice.
    """

    chat: str
    case_id: str | None
    key: str

    def dedupe(self, what: str) -> str:
        return f"{self.key}:{what}"

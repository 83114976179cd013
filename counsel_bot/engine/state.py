"""The state of one conversation, as stored between messages."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

PURPOSES: tuple[str, ...] = ("counselling", "safety_alerts", "checkins")


@dataclass(frozen=True)
class ConsentAnswer:
    """One consent answer: which purpose, yes or no, when, in which language, to which text."""

    purpose: str
    granted: bool
    at: str  # ISO 8601, UTC
    language: str
    version: str  # hash of the exact text shown
    withdrawal: bool = False


@dataclass
class Conversation:
    language: str | None = None
    # The language is only the deployment's default (Telegram gave no enabled language):
    # the person's first free text may show theirs, and the bot then offers it.
    language_guess: bool = False
    position: str | None = None  # "flow.step" awaiting an answer
    return_to: str | None = None  # where a detour (/language, /privacy) goes back to
    consents: dict[str, ConsentAnswer] = field(default_factory=dict)
    consent_log: list[ConsentAnswer] = field(default_factory=list)
    country: str | None = None
    timezone: str | None = None
    case_id: str | None = None  # the case this chat joined by invitation
    pending_session: str | None = None  # the session whose change is being suggested
    checkin: dict[str, Any] | None = None  # the check-in being answered: id, score, needs
    closure: dict[str, Any] | None = None  # the final evaluation being answered
    closed: str | None = None  # the case's closing reason; "deceased" silences everything
    stopped: bool = False  # the person stopped contact with /stop
    resuming: bool = False  # came back after /stop; consenting again reopens the case
    safety_check: str | None = None  # the "are you safe?" question waiting for an answer

    def has_consent(self, purpose: str) -> bool:
        answer = self.consents.get(purpose)
        return bool(answer and answer.granted)

    def to_dict(self) -> dict[str, Any]:
        """A plain copy, as `dataclasses.asdict` gives, without its generic (slow) walk."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["consents"] = {k: dict(vars(v)) for k, v in self.consents.items()}
        data["consent_log"] = [dict(vars(v)) for v in self.consent_log]
        data["checkin"] = copy.deepcopy(self.checkin)
        data["closure"] = copy.deepcopy(self.closure)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Conversation:
        if not data:
            return cls()
        data = dict(data)
        data["consents"] = {k: ConsentAnswer(**v) for k, v in data.get("consents", {}).items()}
        data["consent_log"] = [ConsentAnswer(**v) for v in data.get("consent_log", [])]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def copy(self) -> Conversation:
        return Conversation.from_dict(self.to_dict())

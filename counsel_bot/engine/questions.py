"""The questions a country office words, as data (`dialogs/questions.yaml`): the check-in,
the closing evaluation, the referral offer and the session notice.

The Python that asks them (checkins.py, closure.py, sessions.py) only reads these models;
a deployment changes a question by replacing the file in its own dialogs folder. Each text
may use only the placeholders the bot fills there, so a typo is refused at start-up, not
met by a returnee.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from counsel_bot.i18n.catalogs import placeholders

STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)


def _text(*allowed: str) -> Any:
    """A non-empty text using only the placeholders `allowed`."""
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        extra = sorted(placeholders(value) - set(allowed))
        if extra:
            can = ", ".join(f"{{{a}}}" for a in allowed) or "none"
            raise ValueError(f"uses {', '.join(f'{{{e}}}' for e in extra)}, which the bot "
                             f"does not fill here; allowed placeholders: {can}")
        return value
    return Annotated[str, AfterValidator(check)]


Text = _text()


class Need(BaseModel):
    model_config = STRICT
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    label: Text


class NeedsQuestion(BaseModel):
    model_config = STRICT
    question: Text
    options: list[Need] = Field(min_length=1)
    done: Text

    @model_validator(mode="after")
    def _codes(self) -> NeedsQuestion:
        codes = [n.code for n in self.options]
        twice = {c for c in codes if codes.count(c) > 1}
        if twice:
            raise ValueError(f"the need {sorted(twice)[0]!r} is listed twice")
        if "safety" not in codes:
            raise ValueError('the need "safety" must stay: choosing it alerts the case worker')
        return self


class Checkin(BaseModel):
    model_config = STRICT
    question: Text
    reminder: Text
    scale: list[Text] = Field(min_length=5, max_length=5)  # 1 (worst) to 5 (best)
    snooze: Text
    snoozed: Text
    needs: NeedsQuestion
    safety: Text
    comment: Text
    skip: Text
    thanks: Text


class Met(BaseModel):
    model_config = STRICT
    question: Text
    yes: Text
    partly: Text
    no: Text

    def label(self, answer: str) -> str:
        return str(getattr(self, answer))


class Evaluation(BaseModel):
    model_config = STRICT
    intro: Text
    met: Met
    missing: Text
    support: Text
    comment: Text
    thanks: Text


class Referral(BaseModel):
    model_config = STRICT
    offer: _text("partner", "description")
    yes: Text
    no: Text
    shared: _text("partner")
    not_shared: _text("partner")


class SessionNotice(BaseModel):
    model_config = STRICT
    text: _text("when", "where", "duration")
    place: _text("place")
    online: _text("link")
    interpreter: _text("language")
    first: Text


class Questions(BaseModel):
    """`questions:` of dialogs/questions.yaml (or of a deployment's copy)."""

    model_config = STRICT
    checkin: Checkin
    evaluation: Evaluation
    referral: Referral
    session_notice: SessionNotice

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(n.code for n in self.checkin.needs.options)

    def need_label(self, code: str) -> str:
        return next((n.label for n in self.checkin.needs.options if n.code == code), code)


def parse_questions(data: Any) -> tuple[Questions | None, list[str]]:
    """The questions, or the problems found, each as "key: what is wrong"."""
    try:
        return Questions.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = "questions"
            for part in error["loc"]:
                key += f"[{part}]" if isinstance(part, int) else f".{part}"
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "missing"
            elif error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{key}: {message}")
        return None, problems

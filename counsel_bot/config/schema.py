"""What a deployment file and a country file may hold, checked strictly with pydantic.

These models describe the files as an administrator writes them. Every field's
`description` says in plain words what is allowed: the loader (`deployment.py`) quotes it
when it refuses a value, and `docs/content-authoring.md` lists the same fields. The rest
of the bot never sees these models; it reads the frozen dataclasses made from them.

Strict on purpose: YAML turns unquoted values into numbers, booleans or dates, so nothing
is coerced. `"no"` in quotes is not false, and a phone number must be written in quotes
(YAML would read `0123` as the number 83 and drop the `+` of `+221...`).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES

STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)

# The error type of every refusal written here: its message is already in plain words.
PLAIN = "config"


def refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError(PLAIN, message)


# What `counsel-bot deployment init` writes where a fact must be filled in; a value still
# holding it is refused, so no scaffolded placeholder ever reaches a returnee.
FILL_IN = "FILL IN"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise refuse("is empty")
    if FILL_IN in value:
        raise refuse(f'still says "{FILL_IN}": write the verified value here')
    return value


def _supported_language(value: str) -> str:
    if value not in SUPPORTED_LANGUAGES:
        raise refuse(f'"{value}" is not a language the bot has translations for')
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise refuse(f'"{value}" is not a known time zone') from None
    return value


def _no_duplicates(values: list[Any]) -> list[Any]:
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise refuse(f'"{seen[0]}" is listed twice')
    return values


Text = Annotated[str, AfterValidator(_not_blank)]
Hour = Annotated[int, Field(ge=0, le=23)]
Language = Annotated[str, AfterValidator(_supported_language)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]

HOUR = "a whole hour of the day, 0 to 23 (local time of the returnee)"
TRUE_OR_FALSE = "true or false, without quotes"
LANGUAGES = ", ".join(SUPPORTED_LANGUAGES)
COUNTRY_CODE = ("two capital letters, the country's ISO 3166 code (for example SN), "
                "the same as the country file's name")


class QuietHours(BaseModel):
    model_config = STRICT

    start: Hour = Field(description=HOUR)
    end: Hour = Field(description=HOUR)

    @model_validator(mode="after")
    def _a_span(self) -> QuietHours:
        if self.start == self.end:
            raise refuse(f"start and end are both {self.start}: it is unclear whether that "
                         "means no quiet hours or all day")
        return self


class Checkins(BaseModel):
    model_config = STRICT

    days: list[Annotated[int, Field(gt=0)]] = Field(
        default=[3, 7, 14, 30], min_length=1,
        description="a list of whole days after arrival, each above 0, in increasing order "
                    "(for example [3, 7, 14, 30])")
    monthly: bool = Field(default=True, description=TRUE_OR_FALSE)
    hour: Hour = Field(default=10, description=HOUR)

    @field_validator("days")
    @classmethod
    def _increasing(cls, days: list[int]) -> list[int]:
        for before, after in pairwise(days):
            if after <= before:
                raise refuse(f"{after} comes after {before}")
        return days


class AlertDeadlines(BaseModel):
    model_config = STRICT

    urgent: int = Field(default=15, gt=0, description="a whole number of minutes above 0")
    high: int = Field(default=240, gt=0, description="a whole number of minutes above 0")

    @model_validator(mode="after")
    def _urgent_first(self) -> AlertDeadlines:
        if self.urgent > self.high:
            raise refuse(f"urgent ({self.urgent}) is longer than high ({self.high})")
        return self


class DeploymentFile(BaseModel):
    """`deployment.yaml`: the organisation, its languages and its rules."""

    model_config = STRICT

    sample: bool = Field(default=False, description=TRUE_OR_FALSE)
    organisation: Text = Field(description="the organisation's name, as returnees read it")
    languages: list[Language] = Field(
        default=list(SUPPORTED_LANGUAGES), min_length=1,
        description=f"a list of language codes, each once, among: {LANGUAGES}")
    default_language: str | None = Field(
        default=None, description="one of the codes listed in languages")
    source_language: str = Field(
        default="en", pattern=r"^[a-z]{2,3}$",
        description="the language code (for example fr) the deployment's own texts are "
                    "written in: the organisation, services, rumours and contacts; every other "
                    "enabled language needs a translation in locales/<lang>/LC_MESSAGES/"
                    "deployment.po")
    missing_translations: Literal["refuse", "show_source"] = Field(
        default="refuse",
        description='refuse (the bot does not start while a text of this deployment lacks a '
                    'translation) or show_source (the text is shown as written, with a note in '
                    "the returnee's language that it is not yet translated)")
    dialogs_dir: Text = Field(
        default="dialogs",
        description="a folder, relative to this file, whose flow files replace the shipped "
                    "flows of the same name (optional; the shipped flows are used otherwise)")
    default_country: CountryCode = Field(description=COUNTRY_CODE)
    countries_dir: Text = Field(
        default="countries",
        description="a folder, relative to this file, holding one XX.yaml per country")
    retention_months: int = Field(default=12, gt=0,
                                  description="a whole number of months above 0")
    erasure_days: int = Field(default=30, gt=0, description="a whole number of days above 0")
    vital_interest_alerts: bool = Field(default=True, description=TRUE_OR_FALSE)
    quiet_hours: QuietHours = Field(
        default=QuietHours(start=21, end=8),
        description="start and end, each a whole hour 0 to 23, different from each other")
    checkins: Checkins = Field(default=Checkins(),
                               description="the keys days, monthly and hour")
    alert_deadlines_minutes: AlertDeadlines = Field(
        default=AlertDeadlines(),
        description="urgent and high, each a number of minutes above 0, urgent not longer")

    @field_validator("languages")
    @classmethod
    def _each_once(cls, languages: list[str]) -> list[str]:
        return _no_duplicates(languages)

    @field_validator("default_language")
    @classmethod
    def _enabled(cls, value: str | None, info: ValidationInfo) -> str:
        if not value:  # written but left empty; leaving the key out means the first language
            raise refuse("is empty")
        enabled = info.data.get("languages", SUPPORTED_LANGUAGES)
        if value not in enabled:
            raise refuse(f'"{value}" is not among the languages enabled ({", ".join(enabled)})')
        return value


class Office(BaseModel):
    model_config = STRICT

    name: Text = Field(description="the office's name, not empty")
    address: Text = Field(description="the office's address, not empty")
    phone: Text = Field(description='a phone number, in quotes (for example "+221 33 000 0000")')
    hours: Text = Field(description="the opening hours, not empty")


class Contact(BaseModel):
    model_config = STRICT

    name: Text = Field(description="who answers (for example Emergency services), not empty")
    phone: Text = Field(description='a phone number, in quotes (for example "17")')


class Service(BaseModel):
    model_config = STRICT

    name: Text = Field(description="the service's name, not empty")
    description: Text = Field(description="what the service gives, not empty")
    limits: Text = Field(description="what the service does not cover, not empty")
    conditions: Text = Field(description="who can have it, not empty")


class Rumour(BaseModel):
    model_config = STRICT

    rumour: Text = Field(description="what people say, not empty")
    fact: Text = Field(description="what is true, not empty")


class Partner(BaseModel):
    model_config = STRICT

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$",
                      description="a short code of small letters, digits, - or _ "
                                  "(for example sn-health), once per country; it is "
                                  "recorded with the returnee's consent to the referral")
    name: Text = Field(description="the partner's name, not empty")
    description: Text = Field(description="what the partner offers, not empty")


class CountryFile(BaseModel):
    """`countries/XX.yaml`: one country's office, contacts, services and rumours."""

    model_config = STRICT

    code: CountryCode = Field(description=COUNTRY_CODE)
    name: Text = Field(description="the country's name, as returnees read it")
    sample: bool = Field(default=False, description=TRUE_OR_FALSE)
    timezones: list[TimeZone] = Field(
        default=["UTC"], min_length=1,
        description="a list of IANA time zone names (for example Africa/Dakar), each once")
    office: Office = Field(description="the keys name, address, phone and hours")
    emergency_contacts: list[Contact] = Field(
        min_length=1, description="a list of at least one contact, each with name and phone")
    services: list[Service] = Field(
        default=[], description="a list of services, each with name, description, limits "
                                "and conditions")
    rumours: list[Rumour] = Field(default=[],
                                  description="a list of rumours, each with rumour and fact")
    referral_partners: list[Partner] = Field(
        default=[], description="a list of partners, each with code, name and description")

    @field_validator("timezones")
    @classmethod
    def _zones_once(cls, zones: list[str]) -> list[str]:
        return _no_duplicates(zones)

    @field_validator("referral_partners")
    @classmethod
    def _codes_once(cls, partners: list[Partner]) -> list[Partner]:
        _no_duplicates([p.code for p in partners])
        return partners

"""A deployment's facts: organisation, languages and per-country content.

Services, offices and emergency contacts are never written in code. They come from this
configuration; the shipped one is a sample and is marked as such wherever it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES


class ConfigError(Exception):
    """The deployment configuration is incomplete or malformed."""


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    limits: str
    conditions: str


@dataclass(frozen=True)
class Rumour:
    rumour: str
    fact: str


@dataclass(frozen=True)
class Office:
    name: str
    address: str
    phone: str
    hours: str


@dataclass(frozen=True)
class Partner:
    """A service a case may be referred to at closure, with the returnee's yes."""

    code: str
    name: str
    description: str


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    sample: bool
    office: Office
    emergency_contacts: tuple[Contact, ...]
    services: tuple[Service, ...]
    rumours: tuple[Rumour, ...]
    timezones: tuple[str, ...] = ("UTC",)
    referral_partners: tuple[Partner, ...] = ()


@dataclass(frozen=True)
class Deployment:
    sample: bool
    organisation: str
    languages: tuple[str, ...]
    default_language: str
    default_country: str
    retention_months: int
    vital_interest_alerts: bool
    countries: dict[str, Country]
    quiet_hours: tuple[int, int] = (21, 8)
    checkin_days: tuple[int, ...] = (3, 7, 14, 30)  # after arrival
    checkin_monthly: bool = True  # then monthly until closure
    checkin_hour: int = 10  # local time a check-in is sent
    alert_deadlines: tuple[tuple[str, int], ...] = (("urgent", 15), ("high", 240))  # minutes
    erasure_days: int = 30  # an erasure request is carried out after this, if not sooner

    def alert_deadline(self, severity: str) -> int:
        return dict(self.alert_deadlines).get(severity, 240)

    def country(self, code: str | None) -> Country:
        return self.countries.get(code or "", self.countries[self.default_country])


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] in (None, ""):
        raise ConfigError(f"{where}: missing {key!r}")
    return data[key]


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top")
    return data


def load_country(path: Path) -> Country:
    data = _load_yaml(path)
    where = str(path)
    office = _require(data, "office", where)
    return Country(
        code=str(_require(data, "code", where)),
        name=str(_require(data, "name", where)),
        sample=bool(data.get("sample", False)),
        office=Office(**{k: str(_require(office, k, f"{where}: office"))
                         for k in ("name", "address", "phone", "hours")}),
        emergency_contacts=tuple(
            Contact(str(_require(c, "name", where)), str(_require(c, "phone", where)))
            for c in _require(data, "emergency_contacts", where)
        ),
        services=tuple(
            Service(**{k: str(_require(s, k, f"{where}: service"))
                       for k in ("name", "description", "limits", "conditions")})
            for s in data.get("services") or ()
        ),
        rumours=tuple(
            Rumour(str(_require(r, "rumour", where)), str(_require(r, "fact", where)))
            for r in data.get("rumours") or ()
        ),
        timezones=tuple(str(t) for t in data.get("timezones") or ("UTC",)),
        referral_partners=tuple(
            Partner(**{k: str(_require(p, k, f"{where}: referral partner"))
                       for k in ("code", "name", "description")})
            for p in data.get("referral_partners") or ()
        ),
    )


def load_deployment(path: Path) -> Deployment:
    data = _load_yaml(path)
    where = str(path)
    countries_dir = path.parent / str(data.get("countries_dir", "countries"))
    countries = {c.code: c for c in map(load_country, sorted(countries_dir.glob("*.yaml")))}
    languages = tuple(data.get("languages") or SUPPORTED_LANGUAGES)
    unknown = [lang for lang in languages if lang not in SUPPORTED_LANGUAGES]
    if unknown:
        raise ConfigError(f"{where}: unsupported languages {unknown}")
    default_country = str(_require(data, "default_country", where))
    if default_country not in countries:
        raise ConfigError(f"{where}: default_country {default_country!r} has no file in "
                          f"{countries_dir}")
    quiet = data.get("quiet_hours") or {"start": 21, "end": 8}
    checkins = data.get("checkins") or {}
    deadlines = data.get("alert_deadlines_minutes") or {}
    return Deployment(
        sample=bool(data.get("sample", False)) or any(c.sample for c in countries.values()),
        organisation=str(_require(data, "organisation", where)),
        languages=languages,
        default_language=str(data.get("default_language", languages[0])),
        default_country=default_country,
        retention_months=int(data.get("retention_months", 12)),
        vital_interest_alerts=bool(data.get("vital_interest_alerts", True)),
        countries=countries,
        quiet_hours=(int(quiet["start"]), int(quiet["end"])),
        checkin_days=tuple(int(d) for d in checkins.get("days", (3, 7, 14, 30))),
        checkin_monthly=bool(checkins.get("monthly", True)),
        checkin_hour=int(checkins.get("hour", 10)),
        alert_deadlines=(("urgent", int(deadlines.get("urgent", 15))),
                         ("high", int(deadlines.get("high", 240)))),
        erasure_days=int(data.get("erasure_days", 30)),
    )

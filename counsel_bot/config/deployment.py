"""A deployment's facts: organisation, languages and per-country content.

Services, offices and emergency contacts are never written in code. They come from this
configuration; the shipped one is a sample and is marked as such wherever it shows.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from counsel_bot import yaml_text
from counsel_bot.config import schema

M = TypeVar("M", bound=BaseModel)


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
    folder: Path | None = None  # the deployment's folder: its catalogues, its own flows
    source_language: str = "en"  # the language its own texts are written in
    show_untranslated: bool = False  # show a missing translation's source text, with a note
    dialogs_dir: Path | None = None  # its own flows, replacing shipped ones of the same name

    def alert_deadline(self, severity: str) -> int:
        return dict(self.alert_deadlines).get(severity, 240)

    def country(self, code: str | None) -> Country:
        return self.countries.get(code or "", self.countries[self.default_country])


# -- problems -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: the key, what is wrong with it, and what is allowed."""

    file: Path
    key: str  # the key's full path, e.g. quiet_hours.start or services[2].limits; "" for the file
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """The deployment configuration has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


@dataclass(frozen=True)
class Configuration:
    """What `read_config` found: every file it read, every problem, and the deployment
    (None unless every file is valid). Further checks (translations of the deployment's
    own texts, for instance) take `files` and add their problems to the same report."""

    path: Path
    files: tuple[Path, ...]  # the deployment file, then each country file
    deployment: Deployment | None
    problems: tuple[Problem, ...]


# -- reading ------------------------------------------------------------------------------

def read_config(path: Path) -> Configuration:
    """Validate the deployment file and every country file, collecting every problem."""
    problems: list[Problem] = []
    data, node = _read_yaml(path, problems)
    model = _validate(schema.DeploymentFile, path, data, node, problems)
    countries_dir = _countries_dir(path, data, node, problems)
    country_paths = sorted(countries_dir.glob("*.yaml")) if countries_dir else []
    if countries_dir and not country_paths:
        problems.append(Problem(path, "countries_dir", f"the folder {countries_dir} holds no "
                                "country file; allowed: a folder with one XX.yaml per country",
                                _line(node, ("countries_dir",))))
    countries: dict[str, Country] = {}
    for country_path in country_paths:
        country_data, country_node = _read_yaml(country_path, problems)
        country = _validate(schema.CountryFile, country_path, country_data, country_node,
                            problems)
        if country is None:
            continue
        if country.code != country_path.stem:
            problems.append(Problem(
                country_path, "code", f'"{country.code}" is not the file\'s name; allowed: '
                f"{country_path.stem}, as the file is named {country_path.name}",
                _line(country_node, ("code",))))
        else:
            countries[country.code] = _country(country)
    default_country = data.get("default_country") if isinstance(data, dict) else None
    if (country_paths and isinstance(default_country, str)
            and default_country not in {p.stem for p in country_paths}
            and not any(p.file == path and p.key == "default_country" for p in problems)):
        problems.append(Problem(
            path, "default_country", f'"{default_country}" has no file '
            f"{countries_dir / default_country}.yaml; allowed: one of "
            f"{', '.join(p.stem for p in country_paths)}", _line(node, ("default_country",))))
    files = (path, *country_paths)
    problems.sort(key=lambda p: (files.index(p.file), p.line or 0))
    deployment = (_deployment(model, countries, path) if model is not None and not problems
                  else None)
    return Configuration(path, files, deployment, tuple(problems))


def load_deployment(path: Path) -> Deployment:
    """The deployment, or ConfigError naming every problem in it and its country files."""
    config = read_config(path)
    if config.deployment is None:
        raise ConfigError(config.problems)
    return config.deployment


def _read_yaml(path: Path, problems: list[Problem]) -> tuple[Any, yaml.Node | None]:
    """The file's data and its YAML node tree (for line numbers), or None and a problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(path, "", "is not UTF-8 text"))
        return None, None
    except OSError as exc:
        problems.append(Problem(path, "", f"cannot be read: {exc.strerror or exc}"))
        return None, None
    try:
        node = yaml_text.compose(text)
        data = yaml_text.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(path, "", f"is not valid YAML: {problem}",
                                mark.line + 1 if mark else None))
        return None, None
    if not isinstance(data, dict):
        problems.append(Problem(path, "", "is empty" if data is None else
                                "does not hold key: value lines at the top"))
        return None, None
    problems += _key_problems(path, node)
    return data, node


def _validate(model: type[M], path: Path, data: Any, node: yaml.Node | None,
              problems: list[Problem]) -> M | None:
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems += [Problem(path, _key(error["loc"]), _explain(model, error, node),
                             _line(node, error["loc"])) for error in exc.errors()
                     if error["type"] != "invalid_key"]  # reported from the YAML, by name
        return None


def _countries_dir(path: Path, data: Any, node: yaml.Node | None,
                   problems: list[Problem]) -> Path | None:
    """The country folder, read even when other keys are wrong so that every file is checked."""
    if not isinstance(data, dict):
        return None
    name = data.get("countries_dir", "countries")
    if not isinstance(name, str) or not name.strip():
        return None  # the schema reports it
    folder = path.parent / name
    if not folder.is_dir():
        problems.append(Problem(path, "countries_dir", f"{folder} is not a folder; allowed: a "
                                "folder, relative to this file, holding one XX.yaml per country",
                                _line(node, ("countries_dir",))))
        return None
    return folder


# -- explaining ---------------------------------------------------------------------------

def _key(loc: Sequence[int | str]) -> str:
    """("services", 2, "limits") -> services[2].limits"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or as the items of a list."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, tuple, Union) or type(annotation).__name__ == "UnionType":
        for arg in get_args(annotation):
            if (found := _model_in(arg)) is not None:
                return found
    return None


def _field_at(model: type[BaseModel], loc: Sequence[int | str]) -> tuple[
        FieldInfo | None, type[BaseModel] | None]:
    """The field a location names, and the model whose keys are allowed there."""
    owner: type[BaseModel] | None = model
    field: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: the list's field describes it
        if owner is None or part not in owner.model_fields:
            return None, owner
        field = owner.model_fields[part]
        owner = _model_in(field.annotation)
    return field, owner


def _node_at(node: yaml.Node | None, loc: Sequence[int | str]) -> tuple[yaml.Node | None, int]:
    """The YAML node at a location (None if absent) and the line of the nearest one found."""
    line = node.start_mark.line + 1 if node is not None else 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pairs = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
            if not pairs:
                return None, line
            key, node = pairs[-1]  # the last one counts, as when the file is loaded
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return None, line
    return node, line


def _line(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    return _node_at(node, loc)[1] or None


def _yaml_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a group of keys"
    return "text"


def _shown(value: Any, node: yaml.Node | None) -> str:
    """A value as the administrator wrote it."""
    if isinstance(node, yaml.ScalarNode):
        quote = node.style if node.style in ('"', "'") else ""
        return f"{quote}{node.value}{quote}"
    if isinstance(value, list | dict):
        return _yaml_kind(value)
    return f'"{value}"' if isinstance(value, str) else str(value)


def _explain(model: type[BaseModel], error: Any, root: yaml.Node | None) -> str:
    """A pydantic error in plain words: what is wrong, then what is allowed."""
    loc, kind, value = error["loc"], error["type"], error.get("input")
    field, owner = _field_at(model, loc)
    if kind == "extra_forbidden":
        allowed = list(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown key{hint}; the keys allowed here are: {', '.join(allowed)}"
    wanted = field.description if field is not None and field.description else \
        "see docs/content-authoring.md"
    if kind == "missing":
        return f"missing; required: {wanted}"
    shown = _shown(value, _node_at(root, loc)[0])
    quoted = " is in quotes, so it is text," if isinstance(value, str) else " is"
    if kind == schema.PLAIN:
        what = error["msg"]
    elif value is None or kind == "too_short":
        what = "is empty"
    elif kind in ("bool_type", "bool_parsing"):
        what = f"{shown}{quoted} not true or false"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        what = f"{shown}{quoted} not a whole number"
    elif kind == "string_type":
        what = f"{shown} is read as {_yaml_kind(value)}, not text; write it in quotes"
    elif kind in ("list_type", "tuple_type"):
        what = f"{shown} is not a list"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        what = f"{shown} is not a group of keys"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        what = f"{shown} is out of range"
    elif kind == "string_pattern_mismatch":
        what = f"{shown} does not have the right form"
    else:
        what = str(error["msg"])
    return f"{what}; allowed: {wanted}"


_TAG_KINDS = {"bool": "true or false", "int": "a number", "float": "a number",
              "null": "nothing", "timestamp": "a date"}


def _key_problems(path: Path, node: yaml.Node | None,
                  loc: tuple[int | str, ...] = ()) -> list[Problem]:
    """Keys written twice (YAML keeps the last silently, so an earlier value would be lost),
    and keys YAML reads as something other than a name (`yes:` is true, `1:` a number)."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(getattr(key, "value", ""))
            line = key.start_mark.line + 1
            if not key.tag.endswith(":str"):
                kind = _TAG_KINDS.get(key.tag.rpartition(":")[2], "something else")
                problems.append(Problem(path, _key((*loc, name)), f"is read as {kind}, not as "
                                        "a key's name; allowed: a key's name, in quotes if it "
                                        "must be written so", line))
            elif name in seen:
                problems.append(Problem(path, _key((*loc, name)), f"is written twice (lines "
                                        f"{seen[name]} and {line}); keep one", line))
            seen.setdefault(name, line)
            problems += _key_problems(path, value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _key_problems(path, item, (*loc, index))
    return problems


# -- the bot's own types --------------------------------------------------------------------

def _country(model: schema.CountryFile) -> Country:
    return Country(
        code=model.code, name=model.name, sample=model.sample,
        office=Office(**model.office.model_dump()),
        emergency_contacts=tuple(Contact(**c.model_dump()) for c in model.emergency_contacts),
        services=tuple(Service(**s.model_dump()) for s in model.services),
        rumours=tuple(Rumour(**r.model_dump()) for r in model.rumours),
        timezones=tuple(model.timezones),
        referral_partners=tuple(Partner(**p.model_dump()) for p in model.referral_partners),
    )


def _deployment(model: schema.DeploymentFile, countries: dict[str, Country],
                path: Path) -> Deployment:
    dialogs = path.parent / model.dialogs_dir
    return Deployment(
        folder=path.parent,
        source_language=model.source_language,
        show_untranslated=model.missing_translations == "show_source",
        dialogs_dir=dialogs if dialogs.is_dir() else None,
        sample=model.sample or any(c.sample for c in countries.values()),
        organisation=model.organisation,
        languages=tuple(model.languages),
        default_language=model.default_language or model.languages[0],
        default_country=model.default_country,
        retention_months=model.retention_months,
        vital_interest_alerts=model.vital_interest_alerts,
        countries=countries,
        quiet_hours=(model.quiet_hours.start, model.quiet_hours.end),
        checkin_days=tuple(model.checkins.days),
        checkin_monthly=model.checkins.monthly,
        checkin_hour=model.checkins.hour,
        alert_deadlines=(("urgent", model.alert_deadlines_minutes.urgent),
                         ("high", model.alert_deadlines_minutes.high)),
        erasure_days=model.erasure_days,
    )

"""Flows as data: load dialogs/*.yaml and refuse a broken flow at start-up.

Broken means an unknown goto, an unreachable step, a text with no translation in an
enabled language, or a placeholder that differs between languages. Every error names
the file and the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from counsel_bot import yaml_text
from counsel_bot.engine.questions import Questions, parse_questions
from counsel_bot.i18n.catalogs import (
    UNTRANSLATED_NOTE,
    Catalogs,
    language_name,
    placeholders,
)
from counsel_bot.i18n.extract import keyed_texts_in_yaml

STEP_TYPES: Mapping[str, tuple[str, ...]] = {
    # type: the keys it requires
    "message": ("text", "next"),
    "menu": ("text", "options"),
    "choose_language": ("text", "next"),
    "consent": ("text", "purpose", "accept", "decline", "on_accept", "on_decline"),
    "services": ("text", "empty", "next"),
    "rumours": ("text", "empty", "next"),
    "contact": ("text", "next"),
    "privacy": ("text", "next", "purposes"),
    "write_to_caseworker": ("text", "next"),
}
GOTO_KEYS = ("next", "on_accept", "on_decline")


class DialogError(Exception):
    """A flow cannot be used; the message names the file and the step."""


@dataclass(frozen=True)
class Option:
    label: str
    goto: str


@dataclass(frozen=True)
class Step:
    flow: str
    id: str
    type: str
    text: str
    source: str
    next: str | None = None
    options: tuple[Option, ...] = ()
    purpose: str | None = None
    texts: Mapping[str, Any] = field(default_factory=dict)  # every other key, as written

    @property
    def key(self) -> str:
        return f"{self.flow}.{self.id}"

    def get(self, name: str) -> Any:
        return self.texts[name]


@dataclass(frozen=True)
class Dialogs:
    steps: Mapping[str, Step]
    starts: Mapping[str, str]  # flow -> its first step's key
    system: Mapping[str, str]  # system texts by name
    questions: Questions  # the check-in, the evaluation, the referral, the session notice

    def step(self, key: str) -> Step:
        return self.steps[key]

    def start_of(self, flow: str) -> Step:
        return self.steps[self.starts[flow]]

    def consent_step(self, purpose: str) -> Step:
        for step in self.steps.values():
            if step.type == "consent" and step.purpose == purpose:
                return step
        raise KeyError(purpose)


def _qualify(flow: str, target: str) -> str:
    return target if "." in target else f"{flow}.{target}"


def _parse_flow(path: Path, data: dict[str, Any]) -> tuple[str, str, dict[str, Step]]:
    where = path.name
    flow = data.get("flow")
    steps_data = data.get("steps")
    if not isinstance(flow, str) or not isinstance(steps_data, dict) or not steps_data:
        raise DialogError(f"{where}: a flow needs 'flow' and a non-empty 'steps' mapping")
    start = data.get("start")
    if start not in steps_data:
        raise DialogError(f"{where}: start step {start!r} does not exist")
    steps: dict[str, Step] = {}
    for step_id, raw in steps_data.items():
        at = f"{where}: step {step_id!r}"
        if not isinstance(raw, dict):
            raise DialogError(f"{at}: expected a mapping")
        kind = raw.get("type", "message")
        if kind not in STEP_TYPES:
            raise DialogError(f"{at}: unknown type {kind!r}")
        missing = [k for k in STEP_TYPES[kind] if k not in raw]
        if missing:
            raise DialogError(f"{at}: missing {', '.join(missing)}")
        options = tuple(
            Option(label=str(o["label"]), goto=_qualify(flow, str(o["goto"])))
            for o in raw.get("options", ())
        )
        texts = {k: v for k, v in raw.items() if k not in ("type", "next", "options", "text")}
        for key in GOTO_KEYS[1:]:
            if key in texts:
                texts[key] = _qualify(flow, str(texts[key]))
        steps[f"{flow}.{step_id}"] = Step(
            flow=flow, id=step_id, type=kind, text=str(raw["text"]), source=where,
            next=_qualify(flow, str(raw["next"])) if "next" in raw else None,
            options=options, purpose=raw.get("purpose"), texts=texts,
        )
    return flow, f"{flow}.{start}", steps


def _targets(step: Step) -> list[str]:
    targets = [o.goto for o in step.options]
    if step.next:
        targets.append(step.next)
    targets += [step.texts[k] for k in GOTO_KEYS[1:] if k in step.texts]
    return targets


def _check_links(steps: Mapping[str, Step], starts: Iterable[str]) -> None:
    for step in steps.values():
        for target in _targets(step):
            if target not in steps:
                raise DialogError(f"{step.source}: step {step.id!r}: goto {target!r} "
                                  "does not exist")
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo += _targets(steps[key])
    for key in steps.keys() - seen:
        step = steps[key]
        raise DialogError(f"{step.source}: step {step.id!r} is unreachable")


def _step_of_line(data_node: yaml.Node, line: int) -> str:
    """The step a line of a flow file belongs to, for error messages."""
    owner = "(top)"
    if isinstance(data_node, yaml.MappingNode):
        for key, value in data_node.value:
            if key.value == "steps" and isinstance(value, yaml.MappingNode):
                for step_key, _ in value.value:
                    if step_key.start_mark.line + 1 <= line:
                        owner = f"step {step_key.value!r}"
    return owner


def check_translations(path: Path, catalogs: Catalogs) -> list[str]:
    """Problems with the translations of one content file, each naming file, step and language."""
    source = path.read_text(encoding="utf-8")
    node = yaml_text.compose(source)
    problems = []
    for key, line, text in keyed_texts_in_yaml(source):
        owner = _step_of_line(node, line)
        where = f"{path.name}:{line} ({key if owner == '(top)' else owner})"
        for lang in catalogs.languages:
            translated = catalogs.translation_of(lang, text)
            short = text if len(text) < 50 else text[:47] + "..."
            if translated is None:
                problems.append(f"{where}: no {language_name(lang)} ({lang}) translation "
                                f"for {short!r}")
            elif placeholders(translated) != placeholders(text):
                problems.append(f"{where}: the {lang} translation of {short!r} has placeholders "
                                f"{sorted(placeholders(translated))}, expected "
                                f"{sorted(placeholders(text))}")
    return problems


def content_files(dialogs_dir: Path) -> list[Path]:
    """The flow and text files of a dialogs folder (sub-folders, such as the sample
    deployment's, are not flows)."""
    return sorted(dialogs_dir.glob("*.yaml"))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml_text.load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DialogError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DialogError(f"{path.name}: expected a mapping at the top")
    return data


def _flow_name(path: Path) -> str | None:
    """What a file defines as a whole: its flow's name, or "questions"; None for texts."""
    data = _read(path)
    if "flow" in data:
        return str(data["flow"])
    return "questions" if "questions" in data else None


def flow_files(dialogs_dir: Path, overrides: Path | None = None) -> list[Path]:
    """The files in use: the shipped ones, with a deployment's own flow files replacing the
    shipped flow of the same name (and its questions file the shipped questions); its text
    files add to (and replace single) texts."""
    own = content_files(overrides) if overrides is not None else []
    replaced = {name for name in map(_flow_name, own) if name}
    shipped = [p for p in content_files(dialogs_dir) if _flow_name(p) not in replaced]
    return shipped + own


def load_dialogs(dialogs_dir: Path, catalogs: Catalogs | None = None,
                 overrides: Path | None = None) -> Dialogs:
    """Load every flow; with catalogues, also refuse any text that is not translated.

    `overrides` is a deployment's own dialogs folder: a flow there replaces the shipped
    flow of the same name, and its texts replace the shipped texts of the same name."""
    steps: dict[str, Step] = {}
    starts: dict[str, str] = {}
    system: dict[str, str] = {}
    questions: Questions | None = None
    files = flow_files(dialogs_dir, overrides)
    for path in files:
        data = _read(path)
        if "questions" in data:
            if questions is not None:
                raise DialogError(f"{path.name}: the questions are defined twice")
            questions, problems = parse_questions(data["questions"])
            if questions is None:
                raise DialogError("\n".join(f"{path}: {p}" for p in problems))
        elif "flow" in data:
            flow, start, flow_steps = _parse_flow(path, data)
            if flow in starts:
                raise DialogError(f"{path.name}: flow {flow!r} is defined twice")
            starts[flow] = start
            steps.update(flow_steps)
        elif "texts" in data:
            system.update({str(k): str(v) for k, v in data["texts"].items()})
    if not starts:
        raise DialogError(f"{dialogs_dir}: no flows found")
    if questions is None:
        raise DialogError(f"{dialogs_dir}: no questions file (questions.yaml) found")
    for need in questions.checkin.needs.options:  # the desks name a need by these texts
        system[f"need_{need.code}"] = need.label
    _check_links(steps, starts.values())
    if system.get("untranslated_note", UNTRANSLATED_NOTE) != UNTRANSLATED_NOTE:
        raise DialogError(f"untranslated_note must read {UNTRANSLATED_NOTE!r}")
    if catalogs is not None:
        problems = [p for f in files for p in check_translations(f, catalogs)]
        if problems:
            shown = "\n  ".join(problems[:20])
            more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise DialogError(f"untranslated or mismatched texts:\n  {shown}{more}")
    return Dialogs(steps=steps, starts=starts, system=system, questions=questions)

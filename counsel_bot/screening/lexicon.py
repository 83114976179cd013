"""Distress lexicons: the YAML format for content authors, validated and compiled.

Pattern syntax (a pattern is matched against normalized text, whole words only):

* ``word`` a word; ``kill*`` a stem (any ending), ``*قتلنی`` any beginning;
* ``...`` a gap of 0 to GAP_TOKENS words inside the same clause;
* ``{a|b c|d*}`` one of several words/phrases; an empty choice makes it optional
  (``{|really}``); ``{name}`` one of the phrases of the file's ``groups: name:`` list.

See docs/screening.md for the whole file format.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml

from counsel_bot import yaml_text
from counsel_bot.screening.normalize import GLUE_PREFIXES, SPLIT_WORDS, fold

CATEGORIES: tuple[str, ...] = (
    "suicide_self_harm",
    "violence_abuse",
    "threat_to_life",
    "medical_emergency",
    "trafficking_exploitation",
    "no_shelter",
    "no_food",
    "detention",
    "severe_distress",
)
SEVERITIES: tuple[str, ...] = ("urgent", "high")
GAP_TOKENS = 3
MAX_GAPS = 2
DEFAULT_NEGATION_WINDOW = 4

Severity = Literal["urgent", "high"]

_SECTION_KEYS = frozenset(
    {"negation_window", "negation_window_after", "negations", "negations_after",
     "clause_breaks", "idioms", "groups", "categories"}
)
_FILE_KEYS = _SECTION_KEYS | {"language", "variants", "concepts", "transliteration",
                               "romanized_markers"}
_ENTRY_KEYS = frozenset({"pattern", "patterns", "severity", "note", "negatable"})
_GAP_MARK = "\x00"
_ELEMENT = re.compile(r"\{[^{}]*\}|\x00|[^\s{}|\x00]+|\S")
_WORD = re.compile(r"(?:[^\W_]|[\u0980-\u09ff]|\*)+")  # letters, digits, Bengali signs, *
_GROUP_NAME = re.compile(r"^\w+$")
# a gap word: letters and digits, and Bengali vowel signs (combining marks, not \w), so
# that a Bengali word such as "তোমরা" can stand in a gap (round 5)
_GAP_WORD = r"[\w\u0980-\u09ff]++"
_GAP_NC = rf"(?: {_GAP_WORD}){{0,{GAP_TOKENS}}}"
_GAP_CAP = rf"((?: {_GAP_WORD}){{0,{GAP_TOKENS}}})"


class LexiconError(ValueError):
    """A lexicon file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern.

    ``heads`` splits the pattern into alternatives ``(literal prefix, remainder regex)``
    so that many patterns can be merged into one prefix-tree regex; ``regex`` matches the
    whole pattern at a token start, with one capturing group per gap. ``infixes`` holds,
    for alternatives that start with ``*`` (no literal prefix), the letters that must
    follow the ``*`` ("ضربنی" for ``*ضربنی``), used to find candidate words quickly.
    """

    source: str
    heads: tuple[tuple[str, str], ...]
    full: str
    infixes: tuple[str, ...] = ()

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """Compiled when first needed: most patterns are never tried in a process's life,
        and compiling them all made start-up (and each step process's) seconds slower."""
        return re.compile(self.full)

    @property
    def body(self) -> str:
        """The pattern as one regex source without capturing groups."""
        return "(?:" + "|".join(re.escape(p) + r for p, r in self.heads) + ")"


@dataclass(frozen=True)
class Entry:
    """One lexicon entry: a pattern with its category and severity.

    ``negatable``: None (the default) applies the negation rules unless the matched words
    themselves contain a negation ("nowhere to sleep"); False never negates; True also
    counts a negation inside the matched words ("خودمو نمی‌کشم", I won't kill myself).
    """

    lexicon: str
    language: str
    category: str
    severity: Severity
    pattern: Pattern
    negatable: bool | None
    where: str


@dataclass(frozen=True)
class Lexicon:
    """One section of a lexicon file (the language itself or a variant such as ar/latin)."""

    id: str
    language: str
    path: Path
    entries: tuple[Entry, ...]
    idioms: tuple[Pattern, ...]
    negations: tuple[Pattern, ...]
    negations_after: tuple[Pattern, ...]
    clause_breaks: frozenset[str]
    negation_window: int
    negation_window_after: int


@dataclass(frozen=True)
class _Alt:
    phrases: tuple[str, ...]
    optional: bool = False


_GAP = object()


def _literal_regex(phrase: str) -> str:
    """Regex for a space-separated phrase in which ``*`` stands for word characters."""
    out: list[str] = []
    for i, ch in enumerate(phrase):
        if ch == "*":
            last = i + 1 == len(phrase) or phrase[i + 1] == " "
            out.append(r"\w*+" if last else r"\w*")
        else:
            out.append(" " if ch == " " else re.escape(ch))
    return "".join(out)


def _glue_words(words: list[str]) -> list[str]:
    """The word-joining and -splitting rules of ``normalize.glue``, for pattern words."""
    out: list[str] = []
    for word in (part for w in words for part in SPLIT_WORDS.get(w, (w,))):
        if out and out[-1] in GLUE_PREFIXES:
            out[-1] += word
        else:
            out.append(word)
    return out


def _phrase(text: str, where: str) -> str:
    words = _glue_words(_WORD.findall(text))
    for word in words:
        if not word.strip("*"):
            raise LexiconError(f"{where}: a wildcard needs letters next to it")
        if "**" in word:
            raise LexiconError(f"{where}: '**' in {word!r}")
    return " ".join(words)


def _alternatives(inner: str, groups: Mapping[str, tuple[str, ...]], where: str) -> _Alt:
    if "|" not in inner:
        name = inner.strip()
        if name not in groups:
            known = ", ".join(sorted(groups)) or "none defined"
            raise LexiconError(f"{where}: unknown group {{{name}}} (groups: {known}; "
                               "for a single word or phrase, drop the braces)")
        return _Alt(groups[name])
    choices = [c.strip() for c in inner.split("|")]
    phrases = tuple(dict.fromkeys(_phrase(c, where) for c in choices if c))
    if any(not p for p in phrases) or not phrases:
        raise LexiconError(f"{where}: a choice in {{{inner}}} has no words")
    return _Alt(phrases, optional=any(not c for c in choices))


def _elements(folded: str, groups: Mapping[str, tuple[str, ...]], where: str) -> list[Any]:
    elements: list[Any] = []
    words: list[str] = []

    def flush() -> None:
        if words:
            elements.append(_Alt((_phrase(" ".join(words), where),)))
            words.clear()

    for token in _ELEMENT.findall(folded):
        if token == _GAP_MARK:
            flush()
            elements.append(_GAP)
        elif token.startswith("{") and token.endswith("}"):
            if words and words[-1] in GLUE_PREFIXES:
                raise LexiconError(f"{where}: write {words[-1]!r} joined to the next word")
            flush()
            elements.append(_alternatives(token[1:-1], groups, where))
        elif token in "{}|":
            raise LexiconError(f"{where}: unbalanced '{{', '}}' or '|' outside braces")
        else:
            words.extend(_WORD.findall(token))
    flush()
    return [e for e in elements if e is _GAP or e.phrases != ("",)]


def compile_pattern(
    source: object, groups: Mapping[str, tuple[str, ...]], where: str
) -> Pattern:
    """Parse and compile one pattern; ``where`` prefixes error messages."""
    if not isinstance(source, str) or not source.strip():
        raise LexiconError(
            f"{where}: a pattern must be a non-empty string (quote it: YAML reads "
            f"yes/no/on/off as true/false and a leading * or {{ as syntax), got {source!r}"
        )
    where = f"{where} (pattern {source!r})"
    raw = re.sub(r"\.{3,}|…", f" {_GAP_MARK} ", source)
    elements = _elements(fold(raw), groups, where)
    if not elements:
        raise LexiconError(f"{where}: no words")
    if elements[0] is _GAP or elements[-1] is _GAP:
        raise LexiconError(f"{where}: a pattern cannot start or end with '...'")
    if elements[0].optional:
        raise LexiconError(f"{where}: a pattern cannot start with an optional choice")
    gaps = sum(e is _GAP for e in elements)
    if gaps > MAX_GAPS:
        raise LexiconError(f"{where}: at most {MAX_GAPS} '...' gaps per pattern")
    if any(a is _GAP and b is _GAP for a, b in itertools.pairwise(elements)):
        raise LexiconError(f"{where}: two '...' gaps in a row")

    def render(items: Sequence[Any], capture: bool) -> str:
        parts: list[str] = []
        for element in items:
            if element is _GAP:
                parts.append(_GAP_CAP if capture else _GAP_NC)
                continue
            regexes = [_literal_regex(p) for p in element.phrases]
            alt = regexes[0] if len(regexes) == 1 else "(?:" + "|".join(regexes) + ")"
            parts.append(f"(?: {alt})?" if element.optional else " " + alt)
        return "".join(parts) + r"(?!\w)"

    tail = render(elements[1:], capture=False)
    heads: list[tuple[str, str]] = []
    for phrase in elements[0].phrases:
        star = phrase.find("*")
        prefix = phrase if star < 0 else phrase[:star]
        heads.append((prefix, _literal_regex(phrase[len(prefix):]) + tail))
    full = render(elements, capture=True)[1:]  # drop the leading space of the first element
    infixes = tuple(re.split(r"[* ]", p[1:], maxsplit=1)[0]
                    for p in elements[0].phrases if p.startswith("*"))
    return Pattern(source, tuple(heads), full, infixes)


def _as_list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LexiconError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _parse_groups(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LexiconError(f"{where}: expected a mapping of group name to phrases")
    groups: dict[str, tuple[str, ...]] = {}
    for name, phrases in value.items():
        here = f"{where}.{name}"
        if not isinstance(name, str) or not _GROUP_NAME.match(name):
            raise LexiconError(f"{here}: a group name is one word (letters, digits, _)")
        items = _as_list(phrases, here)
        parsed: list[str] = []
        for i, phrase in enumerate(items):
            if not isinstance(phrase, str) or not phrase.strip():
                raise LexiconError(f"{here}[{i}]: a phrase must be a non-empty string")
            if any(c in phrase for c in "{}|") or "..." in phrase or "…" in phrase:
                raise LexiconError(f"{here}[{i}]: group phrases cannot use {{}}, | or ...")
            parsed.append(_phrase(fold(phrase), f"{here}[{i}] ({phrase!r})"))
        if not parsed:
            raise LexiconError(f"{here}: empty group")
        groups[fold(name)] = tuple(dict.fromkeys(parsed))
    return groups


def _parse_entry(
    raw: object, groups: Mapping[str, tuple[str, ...]], where: str
) -> list[tuple[Severity, Pattern, bool | None, str]]:
    """One YAML entry -> (severity, pattern, negatable, location) per pattern."""
    if not isinstance(raw, dict):
        raise LexiconError(f"{where}: an entry is a mapping with 'pattern' and 'severity'")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise LexiconError(f"{where}: unknown key(s) {sorted(map(str, unknown))}")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise LexiconError(f"{where}: severity must be one of {SEVERITIES}, got {severity!r}")
    negatable = raw.get("negatable")
    if negatable is not None and not isinstance(negatable, bool):
        raise LexiconError(f"{where}: negatable must be true or false")
    if ("pattern" in raw) == ("patterns" in raw):
        raise LexiconError(f"{where}: give exactly one of 'pattern' or 'patterns'")
    sources = [raw["pattern"]] if "pattern" in raw else _as_list(raw["patterns"], where)
    if not sources:
        raise LexiconError(f"{where}: 'patterns' is empty")
    compiled = []
    for i, source in enumerate(sources):
        here = f"{where}.patterns[{i}]" if "patterns" in raw else where
        compiled.append((severity, compile_pattern(source, groups, here), negatable, here))
    return compiled


def _parse_section(data: Mapping[str, Any], lexicon_id: str, language: str, path: Path,
                   prefix: str) -> Lexicon:
    where = f"{path}: {prefix}"
    unknown = set(data) - (_FILE_KEYS if not prefix else _SECTION_KEYS)
    if unknown:
        raise LexiconError(f"{where}unknown key(s) {sorted(map(str, unknown))}")
    groups = _parse_groups(data.get("groups"), f"{where}groups")

    def patterns(key: str) -> tuple[Pattern, ...]:
        items = _as_list(data.get(key), f"{where}{key}")
        return tuple(compile_pattern(s, groups, f"{where}{key}[{i}]")
                     for i, s in enumerate(items))

    def window_size(key: str, default: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
            raise LexiconError(f"{where}{key}: a whole number from 1 to 10")
        return value

    window = window_size("negation_window", DEFAULT_NEGATION_WINDOW)
    window_after = window_size("negation_window_after", window)
    breaks: set[str] = set()
    for i, word in enumerate(_as_list(data.get("clause_breaks"), f"{where}clause_breaks")):
        folded = _phrase(fold(word), f"{where}clause_breaks[{i}]") if isinstance(word, str) else ""
        if not folded or " " in folded or "*" in folded:
            raise LexiconError(f"{where}clause_breaks[{i}]: one word per item, got {word!r}")
        breaks.add(folded)
    negations, negations_after = patterns("negations"), patterns("negations_after")

    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise LexiconError(f"{where}categories: a mapping of category to a list of entries")
    entries: list[Entry] = []
    for category, items in categories.items():
        if category not in CATEGORIES:
            raise LexiconError(
                f"{where}categories.{category}: unknown category (known: {', '.join(CATEGORIES)})"
            )
        for i, raw in enumerate(_as_list(items, f"{where}categories.{category}")):
            here = f"{where}categories.{category}[{i}]"
            for severity, pattern, negatable, where_ in _parse_entry(raw, groups, here):
                entries.append(Entry(lexicon_id, language, category, severity, pattern,
                                     negatable, f"{where_} ({pattern.source!r})"))
    if not entries:
        raise LexiconError(f"{where}categories: no entries")
    return Lexicon(lexicon_id, language, path, tuple(entries), patterns("idioms"), negations,
                   negations_after, frozenset(breaks), window, window_after)


def cue_regex(cues: Sequence[Pattern]) -> re.Pattern[str] | None:
    """One regex finding any of the cues (negation words) as whole words."""
    if not cues:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(c.body for c in cues) + ")")


def read_lexicon_file(path: Path) -> dict[str, Any]:
    """The YAML mapping of one ``distress.yaml`` (LexiconError naming the file if bad)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read lexicon: {exc.strerror or exc}") from exc
    try:
        data = yaml_text.load(text)
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: the file must be a mapping (language, categories, ...)")
    return data


def load_lexicon(path: Path, language: str, data: dict[str, Any] | None = None
                 ) -> list[Lexicon]:
    """Load one ``distress.yaml``: the language's section plus its ``variants``."""
    if data is None:
        data = read_lexicon_file(path)
    declared = data.get("language", language)
    if declared != language:
        raise LexiconError(f"{path}: language: {declared!r} does not match folder {language!r}")
    lexicons = [_parse_section(data, language, language, path, "")]
    variants = data.get("variants") or {}
    if not isinstance(variants, dict):
        raise LexiconError(f"{path}: variants: a mapping of variant name to a section")
    for name, section in variants.items():
        if not isinstance(name, str) or not _GROUP_NAME.match(name):
            raise LexiconError(f"{path}: variants.{name}: a variant name is one word")
        if not isinstance(section, dict):
            raise LexiconError(f"{path}: variants.{name}: expected a mapping")
        lexicons.append(
            _parse_section(section, f"{language}/{name}", language, path, f"variants.{name}.")
        )
    return lexicons

"""Screening API: free text, check-in answers and direct help requests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

from counsel_bot.screening.concepts import (
    DAMP_WINDOW,
    RULES_FILE,
    ConceptHit,
    ConceptMatcher,
    LanguageConcepts,
    load_rules,
    parse_language_concepts,
)
from counsel_bot.screening.lexicon import Lexicon, LexiconError, load_lexicon, read_lexicon_file
from counsel_bot.screening.matcher import Matcher
from counsel_bot.screening.normalize import MAX_CHARS, normalize

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fr", "ar", "fa", "es", "ru", "ps", "ur", "uk", "so",
                                         "ti", "bn")
DEFAULT_LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
LEXICON_FILE = "distress.yaml"

Level = Literal["urgent", "high", "check", "none"]
_RANK: dict[str, int] = {"none": 0, "check": 1, "high": 2, "urgent": 3}
_LEVELS: tuple[Level, ...] = ("none", "check", "high", "urgent")
RULES_PATH_NAME = RULES_FILE
WINDOW_CHARS = 120  # the semantic layer reads at most this much: about 1 ms a token on a core


@dataclass(frozen=True)
class ScreeningResult:
    """Outcome of screening one message or answer.

    ``severity`` is the highest level found after negation: ``urgent``, ``high``,
    ``check`` (unsure: ask the person whether they are safe) or ``none``; ``categories``
    lists every category found, including negated ones; ``negated``/``review`` are set
    when a signal was lowered by a negation ("I would never hurt myself") or set aside by
    laughter, so a case worker can look. ``probable_urgent``: the semantic layer thinks
    urgent danger likely (a ``check`` with no answer in time alerts the case worker).
    """

    severity: Level
    categories: tuple[str, ...]  # sorted, distinct
    negated: bool = False
    review: bool = False  # a negated/lowered signal for human review
    languages: tuple[str, ...] = ()  # which lexicons matched
    probable_urgent: bool = False
    semantic: bool = False  # the semantic layer raised the severity

    @property
    def flagged(self) -> bool:
        """True when a case worker should be alerted (urgent/high) or asked to review."""
        return self.severity in ("urgent", "high") or self.review

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"severity": self.severity, "categories": list(self.categories),
                "negated": self.negated, "review": self.review,
                "languages": list(self.languages)}


NO_SIGNAL = ScreeningResult("none", ())


def rank(severity: str) -> int:
    """none 0 < check 1 < high 2 < urgent 3."""
    return _RANK[severity]


def lower(severity: Level) -> Level:
    """What a negation leaves: urgent -> high; high and check -> none."""
    return "high" if severity == "urgent" else "none"


def merge(*results: ScreeningResult) -> ScreeningResult:
    """Combine results (e.g. a check-in and its free-text comment) into one."""
    if not results:
        return NO_SIGNAL
    return ScreeningResult(
        severity=_LEVELS[max(_RANK[r.severity] for r in results)],
        categories=tuple(sorted({c for r in results for c in r.categories})),
        negated=any(r.negated for r in results),
        review=any(r.review for r in results),
        languages=tuple(sorted({lang for r in results for lang in r.languages})),
        probable_urgent=any(r.probable_urgent for r in results),
        semantic=any(r.semantic for r in results),
    )


@dataclass(frozen=True)
class LexiconReading:
    """The lexicons' result, and what the semantic layer must respect."""

    result: ScreeningResult
    guarded: bool  # a negation, an idiom or laughter decided: the semantic layer stays out
    cues: frozenset[str]  # concepts found in the message
    window: str | None = None  # what the semantic layer may read; None: nothing worth it


class SecondOpinion(Protocol):
    """The semantic layer (semantic.py): may raise a lexicon result, never lower it."""

    def review(self, text: str, lang: str | None, reading: LexiconReading
               ) -> ScreeningResult: ...


class Screener:
    """Screens free text against the distress lexicons of all loaded languages.

    Build it once at start-up (``from_locales``); ``screen`` is pure and thread-safe.
    Two layers of lexicon (phrase patterns, and concept entries) and, when given, a
    semantic second opinion (``semantic``).
    """

    def __init__(self, lexicons: Sequence[Lexicon], concepts: ConceptMatcher | None = None,
                 semantic: SecondOpinion | None = None) -> None:
        if not lexicons:
            raise LexiconError("no lexicons given")
        self.lexicons = tuple(lexicons)
        self.languages = tuple(dict.fromkeys(lex.language for lex in lexicons))
        self._matcher = Matcher(self.lexicons)
        self.concepts = concepts
        self.semantic = semantic

    @classmethod
    def from_locales(cls, locales_dir: Path, languages: Sequence[str],
                     semantic: SecondOpinion | None = None) -> Screener:
        """Load ``<locales_dir>/<lang>/distress.yaml`` for each language, and the shared
        concept rules ``<locales_dir>/distress_rules.yaml`` when it is there.

        Raises LexiconError naming the file and entry when a lexicon is missing or bad.
        """
        lexicons: list[Lexicon] = []
        concept_sets: list[LanguageConcepts] = []
        for lang in dict.fromkeys(languages):
            path = Path(locales_dir) / lang / LEXICON_FILE
            data = read_lexicon_file(path)
            lexicons.extend(load_lexicon(path, lang, data))
            concept_sets.append(parse_language_concepts(data, lang, path))
        rules_path = Path(locales_dir) / RULES_FILE
        concepts = None
        if rules_path.exists():
            names = {c for lc in concept_sets for c in lc.words}
            concepts = ConceptMatcher(concept_sets, load_rules(rules_path, names),
                                      _concept_breaks(lexicons, concept_sets))
        return cls(lexicons, concepts, semantic)

    def with_semantic(self, semantic: SecondOpinion | None) -> Screener:
        """The same lexicons with another (or no) semantic layer."""
        return Screener(self.lexicons, self.concepts, semantic)

    def screen(self, text: str, lang: str | None = None) -> ScreeningResult:
        """Screen one message against EVERY loaded lexicon, then the semantic layer.

        ``lang`` (the person's language) does not restrict the lexicons, since people mix
        languages; the semantic layer may use it. Only the first MAX_CHARS characters are
        screened.
        """
        reading = self.read(text)
        if self.semantic is None or reading.guarded or reading.result.severity == "urgent":
            return reading.result
        return self.semantic.review(text, lang, reading)

    def read(self, text: str) -> LexiconReading:
        """The lexicon layers alone."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, not {type(text).__name__}")
        norm = normalize(text)
        found = self.concepts.find(norm, text[:MAX_CHARS]) if self.concepts else None
        # modifier words are scoped to a language: see concepts.py and Matcher.find
        hits = self._matcher.find(norm, found.languages if found else None)
        concept_hits = found.hits if found else []
        laughing = bool(found and found.laughing)
        trivial = found.trivial if found else ()
        trivial_langs = found.trivial_languages if found else ()
        idioms = self._matcher.idiom_spans(norm) if concept_hits or self.semantic else []
        best = 0
        negated = review = probable = False
        categories: set[str] = set()
        languages: set[str] = set()
        for hit in hits:
            severity: Level = hit.entry.severity
            if hit.negated:
                severity = lower(severity)
                negated = True
            lang = hit.entry.language
            if (found is not None and found.laughs_in(lang)) or any(
                    _near(norm, hit.start, hit.end, a, b) and lang in ls
                    for (a, b), ls in zip(trivial, trivial_langs, strict=True)) or any(
                    c.excused and c.rule.category == hit.entry.category
                    and c.start < hit.end and hit.start < c.end for c in concept_hits):
                # (last: the same words, set aside by the concept entry's "unless")
                severity, review = "none", True
            best = max(best, _RANK[severity])
            categories.add(hit.entry.category)
            languages.add(hit.entry.language)
        for chit in concept_hits:
            if any(a < chit.end and chit.start < b for a, b in idioms):
                continue
            level: Level = chit.severity  # type: ignore[assignment]
            if chit.negated:
                level = lower(level)
                negated = True
            if chit.dampened:
                level, review = "none", True
            best = max(best, _RANK[level])
            probable = probable or (level == "check" and chit.rule.probable_urgent)
            categories.add(chit.rule.category)
        review = review or negated
        result = (ScreeningResult(_LEVELS[best], tuple(sorted(categories)), negated=negated,
                                  review=review, languages=tuple(sorted(languages)),
                                  probable_urgent=probable)
                  if categories else NO_SIGNAL)
        guarded = negated or review or bool(idioms) or laughing or bool(trivial)
        window = None
        if result.severity != "none" or (found is not None and found.cue_at is not None):
            if len(text) <= WINDOW_CHARS:
                window = text
            else:  # a long message: from the clause of the first cue, in normalized form
                at = found.cue_at if found is not None and found.cue_at is not None else 0
                start = norm.rfind("\n", 0, at) + 1
                if at - start > WINDOW_CHARS // 2:
                    start = norm.rfind(" ", 0, at - WINDOW_CHARS // 3) + 1
                window = norm[start:start + WINDOW_CHARS].replace("\n", ". ")
        return LexiconReading(result, guarded=guarded,
                              cues=found.concepts if found else frozenset(), window=window)

    def explain(self, text: str) -> list[str]:
        """Which lexicon entries matched, and where they are defined (for content authors)."""
        norm = normalize(text)
        lines = [
            f"{h.entry.severity}{' (negated)' if h.negated else ''} {h.entry.category}: "
            f"{norm[h.start:h.end]!r} <- {h.entry.where}"
            for h in self._matcher.find(norm)
        ]
        if self.concepts is not None:
            found = self.concepts.find(norm, text)
            lines += [
                f"{c.severity}{' (negated)' if c.negated else ''}"
                f"{_aside(c)} "
                f"{c.rule.category}: {norm[c.start:c.end]!r} <- {c.rule.where}"
                for c in found.hits
            ]
            lines.append("concepts found: " + ", ".join(sorted(found.concepts)))
        return lines


def _concept_breaks(lexicons: Sequence[Lexicon],
                    concept_sets: Sequence[LanguageConcepts]) -> set[str]:
    """The clause-break words of every lexicon, for the concept layer, less those that
    another language lists as one of its concept words (round 9: French "car", because,
    is the English "car" of "we sleep in the car"; as a break it split every English
    clause there). Such a word still ends a clause in its own lexicon's phrase patterns."""
    by_word: dict[str, set[str]] = {}
    for lex in lexicons:
        for word in lex.clause_breaks:
            by_word.setdefault(word, set()).add(lex.language)
    listed: dict[str, set[str]] = {}
    for lc in concept_sets:
        for words in lc.words.values():
            for word in words:
                token = normalize(word.lstrip("=").strip())
                if token and " " not in token:
                    listed.setdefault(token, set()).add(lc.language)
    return {w for w, langs in by_word.items() if not listed.get(w, set()) - langs}


def _aside(hit: ConceptHit) -> str:
    if hit.excused:
        return " (set aside: a circumstance in the entry's unless)"
    return " (set aside: laughter or a trivial cause)" if hit.dampened else ""


def _near(norm: str, start: int, end: int, a: int, b: int) -> bool:
    """Whether the word at a..b is in the clause of start..end, within DAMP_WINDOW words."""
    lo, hi = (end, a) if a >= end else (b, start) if b <= start else (a, a)
    between = norm[lo:hi]
    return "\n" not in between and between.count(" ") <= DAMP_WINDOW


@lru_cache(maxsize=1)
def default_screener() -> Screener:
    """The screener for the repository's locales and all supported languages (cached)."""
    return Screener.from_locales(DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES)


def screen_checkin(wellbeing: int | None, needs: Iterable[str] = ()) -> ScreeningResult:
    """Screen a check-in: wellbeing 1 (lowest of 1-5) -> high ``severe_distress``;
    choosing the need "safety" -> high ``threat_to_life`` (the person does not feel safe;
    the kind of danger is unknown until a case worker asks, so it is high, not urgent)."""
    if wellbeing is not None and (
        isinstance(wellbeing, bool) or not isinstance(wellbeing, int) or not 1 <= wellbeing <= 5
    ):
        raise ValueError(f"wellbeing must be 1-5 or None, got {wellbeing!r}")
    if isinstance(needs, str):
        needs = (needs,)
    categories = set()
    if wellbeing == 1:
        categories.add("severe_distress")
    if any(isinstance(n, str) and n.strip().casefold() == "safety" for n in needs):
        categories.add("threat_to_life")
    if not categories:
        return NO_SIGNAL
    return ScreeningResult("high", tuple(sorted(categories)))


def screen_help_request() -> ScreeningResult:
    """``/sos`` or the "I need help now" button: always urgent, category ``help_requested``."""
    return ScreeningResult("urgent", ("help_requested",))

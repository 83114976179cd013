"""Screening API: free text, check-in answers and direct help requests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from counsel_bot.screening.lexicon import Lexicon, LexiconError, load_lexicon
from counsel_bot.screening.matcher import Hit, Matcher
from counsel_bot.screening.normalize import normalize

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fr", "ar", "fa", "es", "ru")
DEFAULT_LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
LEXICON_FILE = "distress.yaml"

Level = Literal["urgent", "high", "none"]
_RANK: dict[str, int] = {"none": 0, "high": 1, "urgent": 2}
_LEVELS: tuple[Level, ...] = ("none", "high", "urgent")


@dataclass(frozen=True)
class ScreeningResult:
    """Outcome of screening one message or answer.

    ``severity`` is the highest level found after negation; ``categories`` lists every
    category found, including negated ones; ``negated``/``review`` are set when a signal
    was lowered by a negation ("I would never hurt myself") so a case worker can look.
    """

    severity: Level
    categories: tuple[str, ...]  # sorted, distinct
    negated: bool = False
    review: bool = False  # a negated/lowered signal for human review
    languages: tuple[str, ...] = ()  # which lexicons matched

    @property
    def flagged(self) -> bool:
        """True when a case worker should be alerted (urgent/high) or asked to review."""
        return self.severity != "none" or self.review

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"severity": self.severity, "categories": list(self.categories),
                "negated": self.negated, "review": self.review,
                "languages": list(self.languages)}


NO_SIGNAL = ScreeningResult("none", ())


def lower(severity: Level) -> Level:
    """One level down: urgent -> high -> none."""
    return _LEVELS[max(0, _RANK[severity] - 1)]


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
    )


class Screener:
    """Screens free text against the distress lexicons of all loaded languages.

    Build it once at start-up (``from_locales``); ``screen`` is pure and thread-safe.
    """

    def __init__(self, lexicons: Sequence[Lexicon]) -> None:
        if not lexicons:
            raise LexiconError("no lexicons given")
        self.lexicons = tuple(lexicons)
        self.languages = tuple(dict.fromkeys(lex.language for lex in lexicons))
        self._matcher = Matcher(self.lexicons)

    @classmethod
    def from_locales(cls, locales_dir: Path, languages: Sequence[str]) -> Screener:
        """Load ``<locales_dir>/<lang>/distress.yaml`` for each language.

        Raises LexiconError naming the file and entry when a lexicon is missing or bad.
        """
        lexicons: list[Lexicon] = []
        for lang in dict.fromkeys(languages):
            lexicons.extend(load_lexicon(Path(locales_dir) / lang / LEXICON_FILE, lang))
        return cls(lexicons)

    def screen(self, text: str, lang: str | None = None) -> ScreeningResult:
        """Screen one message against EVERY loaded lexicon.

        ``lang`` (the person's language) does not restrict screening, since people mix
        languages; it is accepted so callers can pass it and for future tuning.
        Only the first MAX_CHARS characters are screened.
        """
        hits = self._hits(text)
        if not hits:
            return NO_SIGNAL
        best = 0
        negated = False
        categories: set[str] = set()
        languages: set[str] = set()
        for hit in hits:
            severity: Level = hit.entry.severity
            if hit.negated:
                severity = lower(severity)
                negated = True
            best = max(best, _RANK[severity])
            categories.add(hit.entry.category)
            languages.add(hit.entry.language)
        return ScreeningResult(_LEVELS[best], tuple(sorted(categories)), negated=negated,
                               review=negated, languages=tuple(sorted(languages)))

    def explain(self, text: str) -> list[str]:
        """Which lexicon entries matched, and where they are defined (for content authors)."""
        norm = normalize(text)
        return [
            f"{h.entry.severity}{' (negated)' if h.negated else ''} {h.entry.category}: "
            f"{norm[h.start:h.end]!r} <- {h.entry.where}"
            for h in self._matcher.find(norm)
        ]

    def _hits(self, text: str) -> list[Hit]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, not {type(text).__name__}")
        return self._matcher.find(normalize(text))


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

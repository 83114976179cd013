"""Dictionary forms of Russian and Ukrainian words (pymorphy3 and its OpenCorpora / LanguageTool
dictionaries), so that a lexicon word meets its other forms by what the word is, not by how
it begins.

Why not only the Snowball stemmer: a stem is where a word's ending is cut, and two words can
share one. Russian "долго" (for a long time) and "долг" (a debt) both stem to "долг", so
"the bank blocked my card because I was away for a long time" was a debt. Ukrainian has no
Snowball stemmer at all, so its lexicon met only the forms it listed ("вмирати" but not
"вмираю"). A dictionary knows each form's lemma: "долго" is the adverb "долго", "вмираю" is
"вмирати", "убьёт" is "убить". For a word the dictionary does not know (a typo, slang, a
name), the stemmer and typo tolerance are used as before.

The dictionaries cost about 0.13 s and 40 MB in each process that screens, so they are
loaded when the first Cyrillic word is looked up, not at start-up: a bot whose people write
in other scripts never pays for them.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

log = logging.getLogger(__name__)

LANGUAGES = ("ru", "uk")
MIN_SCORE = 0.05
"""Readings of a form less likely than this (pymorphy3's estimate) are not used: "долго"
is also a rare short adjective of "долгий", which is not meant."""


class Lemmatiser:
    """The lemmas of one language's word forms (thread-safe; cached)."""

    def __init__(self, language: str) -> None:
        import pymorphy3

        self._morph = pymorphy3.MorphAnalyzer(lang=language)
        self.lemmas = lru_cache(maxsize=100_000)(self._lemmas)

    def lemma(self, word: str) -> str | None:
        """The most likely dictionary form of a lexicon word, None when unknown."""
        if not self._morph.word_is_known(word):
            return None
        return _plain(self._morph.parse(word)[0].normal_form)

    def _lemmas(self, word: str) -> frozenset[str]:
        """The dictionary forms of ``word`` (normalized), empty when the dictionary does not
        know it."""
        if not self._morph.word_is_known(word):
            return frozenset()
        return frozenset(_plain(p.normal_form) for p in self._morph.parse(word)
                         if p.score >= MIN_SCORE)


def _plain(lemma: str) -> str:
    """A lemma as messages are normalized (ё is е), and a reflexive verb as its verb: the
    dictionaries list "закончиться" (to come to an end) apart from "закончить" (to end),
    and "всё закончится" must meet the lexicon's "закончить"."""
    lemma = lemma.replace("ё", "е")
    return lemma[:-2] if lemma.endswith(("ться", "тись", "тися", "чься")) else lemma


def lemmatisers(languages: list[str] | tuple[str, ...]) -> dict[str, Lemmatiser]:
    """A lemmatiser for each of ``languages`` that has one; none, said once, when pymorphy3
    or a dictionary cannot be loaded (the stemmer and typo tolerance still work)."""
    found: dict[str, Lemmatiser] = {}
    for language in languages:
        if language not in LANGUAGES:
            continue
        try:
            found[language] = Lemmatiser(language)
        except Exception as exc:  # a missing dictionary package: screening goes on without
            log.warning("screening: no %s dictionary forms (%s: %s); stems and typos only",
                        language, type(exc).__name__, exc)
    return found


class DictionaryForms:
    """The lexicons' Russian and Ukrainian words by lemma, loaded at first use (see the
    module docstring); thread-safe."""

    script = "cyrillic"

    def __init__(self, languages: list[str] | tuple[str, ...]) -> None:
        self._languages = tuple(lang for lang in languages if lang in LANGUAGES)
        self._words: list[tuple[str, str, str]] = []  # (language, word, concept)
        self._lock = threading.Lock()
        self._loaded: list[tuple[str, Lemmatiser, dict[str, set[str]]]] | None = None

    def add(self, language: str, word: str, concept: str) -> None:
        """A lexicon word of ``concept`` (before the first lookup)."""
        if language in self._languages:
            self._words.append((language, word, concept))

    def find(self, token: str) -> tuple[set[tuple[str, str]], set[str]]:
        """The (concept, language) pairs whose lexicon words share a lemma with ``token``,
        and the languages whose dictionary knows ``token`` (there its lemma decides)."""
        found: set[tuple[str, str]] = set()
        known: set[str] = set()
        for language, lemmatiser, index in self._load():
            lemmas = lemmatiser.lemmas(token)
            if lemmas:
                known.add(language)
                found.update((c, language) for lemma in lemmas for c in index.get(lemma, ()))
        return found, known

    def _load(self) -> list[tuple[str, Lemmatiser, dict[str, set[str]]]]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    loaded = []
                    for language, lemmatiser in lemmatisers(self._languages).items():
                        index: dict[str, set[str]] = {}
                        for lang, word, concept in self._words:
                            lemma = lemmatiser.lemma(word) if lang == language else None
                            if lemma is not None:
                                index.setdefault(lemma, set()).add(concept)
                        loaded.append((language, lemmatiser, index))
                    self._loaded = loaded
        return self._loaded

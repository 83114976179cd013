"""Find lexicon entries in normalized text, with idiom and negation rules.

The patterns of all lexicons are merged into one prefix-tree regex (plus one for patterns
that start with ``*``), which only finds the word starts where some pattern may match: a
single fast pass over each message. Only at those word starts are the candidate patterns,
indexed by first character, matched one by one. Patterns are built from whole words,
possessive ``\\w*+`` stems and gaps of at most a few words, and words are at most
MAX_TOKEN characters long, so matching time stays linear in the text length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from counsel_bot.screening.lexicon import Entry, Lexicon, Pattern, cue_regex

_WINDOW_CHARS = 400  # look this far (at most) around a match for negation cues
_MAX_HITS_PER_ENTRY = 8
_WORD_START = re.compile(r"(?<![^ \n])(?=[^ \n])")
_KEY = 3  # candidate patterns are indexed by (up to) the first 3 letters of their prefix
T = TypeVar("T")


@dataclass(frozen=True)
class Hit:
    """An entry found in a text; ``negated`` when a negation cue governs it."""

    entry: Entry
    start: int
    end: int
    negated: bool


@dataclass(frozen=True)
class _Negation:
    before: re.Pattern[str] | None
    after: re.Pattern[str] | None
    any: re.Pattern[str] | None
    breaks: frozenset[str]
    window: int
    window_after: int


class _Node:
    __slots__ = ("children", "leaves")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.leaves: list[str] = []

    def render(self) -> str:
        alts = [re.escape(ch) + child.render() for ch, child in sorted(self.children.items())]
        alts.extend(self.leaves)
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def trie_regex(heads: Iterable[tuple[str, str]]) -> str:
    """One regex for many ``(literal prefix, remainder regex)`` alternatives, with the
    literal prefixes merged into a character tree (Python's ``re`` tries alternatives in
    turn, so sharing prefixes keeps the number tried per position small)."""
    root = _Node()
    for prefix, rest in heads:
        node = root
        for ch in prefix:
            node = node.children.setdefault(ch, _Node())
        if rest not in node.leaves:
            node.leaves.append(rest)
    return root.render()


class _Index(Generic[T]):
    """Finds where any of many patterns match, then which ones.

    One prefix-tree regex finds the word starts where a pattern with a literal beginning
    may match; a second one finds the letters that follow a leading ``*`` (``*ضربنی``)
    anywhere in a word. Only at those word starts are the candidate patterns, indexed by
    their first letters, matched one by one.
    """

    def __init__(self, items: Sequence[tuple[Pattern, T]]) -> None:
        anchored = [h for p, _ in items for h in p.heads if h[0]]
        infixes = [(i, "") for p, _ in items for i in p.infixes]
        # Word starts are found by a small regex and filtered by the first letters
        # (``_by_key``); one prefix-tree regex over every pattern did the same with fewer
        # candidates, but compiling it cost over a second in every process at start-up.
        self._starts = _WORD_START if anchored else None
        self._infixes = re.compile(trie_regex(infixes)) if infixes else None
        by_key: dict[str, list[tuple[Pattern, T]]] = {}
        for pattern, item in items:
            for key in dict.fromkeys(prefix[:_KEY] for prefix, _ in pattern.heads if prefix):
                by_key.setdefault(key, []).append((pattern, item))
        self._by_key = {key: tuple(v) for key, v in by_key.items()}
        self._loose = tuple((p, i) for p, i in items if p.infixes)

    def matches(self, text: str) -> Iterator[tuple[T, re.Match[str]]]:
        """``(item, match)`` for every item matching at a word start, in text order."""
        starts = {m.start() for m in self._starts.finditer(text)} if self._starts else set()
        loose: set[int] = set()
        if self._infixes is not None:
            for m in self._infixes.finditer(text):
                p = m.start()
                loose.add(max(text.rfind(" ", 0, p), text.rfind("\n", 0, p)) + 1)
        for pos in sorted(starts | loose):
            candidates: tuple[tuple[Pattern, T], ...] = ()
            if pos in starts:
                for n in range(1, _KEY + 1):
                    candidates += self._by_key.get(text[pos:pos + n], ())
            if pos in loose:
                candidates += self._loose
            seen: set[int] = set()
            for pattern, item in candidates:
                if id(item) in seen:
                    continue
                seen.add(id(item))
                m = pattern.regex.match(text, pos)
                if m is not None:
                    yield item, m


class Matcher:
    """Finds entries of several lexicons in normalized text."""

    def __init__(self, lexicons: Sequence[Lexicon]) -> None:
        self._signals = _Index([(e.pattern, e) for lex in lexicons for e in lex.entries])
        self._idioms = _Index([(i, i) for lex in lexicons for i in lex.idioms])
        self._negation = {
            lex.id: _Negation(
                cue_regex(lex.negations), cue_regex(lex.negations_after),
                cue_regex(lex.negations + lex.negations_after), lex.clause_breaks,
                lex.negation_window, lex.negation_window_after,
            )
            for lex in lexicons
        }

    def find(self, text: str, languages: Iterable[str] | None = None) -> list[Hit]:
        """All entries found in ``text`` (normalized), minus those overlapping an idiom.

        Each entry is reported at most _MAX_HITS_PER_ENTRY times (bounds the work on
        pathological input such as one phrase repeated thousands of times).
        Overlapping hits of one category share a negation (see ``_share_negation``);
        ``languages``, when given, are those the message is plausibly written in (the
        concept layer's reading): only a negation found by one of their lexicons is shared.
        An entry is negated by its own lexicon's negation words only, and an idiom sets
        aside only the words it covers, so both are already scoped to the language.
        """
        hits: list[Hit] = []
        counts: dict[int, int] = {}
        idioms: list[tuple[int, int]] | None = None
        for entry, m in self._signals.matches(text):
            if counts.get(id(entry), 0) >= _MAX_HITS_PER_ENTRY:
                continue
            if idioms is None:  # only texts with a signal pay for the idiom search
                idioms = [im.span() for _, im in self._idioms.matches(text)]
            start, end = m.span()
            if any(a < end and start < b for a, b in idioms):
                continue
            negated = entry.negatable is not False and self._negated(entry, text, m)
            counts[id(entry)] = counts.get(id(entry), 0) + 1
            hits.append(Hit(entry, start, end, negated))
        return _share_negation(hits, frozenset(languages) if languages is not None else None)

    def idiom_spans(self, text: str) -> list[tuple[int, int]]:
        """Where any lexicon's idioms match the normalized text."""
        return [m.span() for _, m in self._idioms.matches(text)]

    def _negated(self, entry: Entry, text: str, m: re.Match[str]) -> bool:
        rules = self._negation[entry.lexicon]
        if rules.any is None:
            return False
        start, end = m.span()
        if rules.any.search(_outside_gaps(m)):
            # the statement is negative itself: "nowhere to sleep", "n'ai pas mangé" --
            # unless the entry says the negation is what it is about: "خودمو نمی‌کشم"
            return entry.negatable is True
        if rules.before is not None:
            lo = max(0, start - _WINDOW_CHARS)
            words = reversed(text[lo:start].rsplit("\n", 1)[-1].split())
            window = _window(words, rules.breaks, rules.window)
            if window:
                # a cue may run into the match ("ma | baddi mout"), but must start before it
                before = " ".join(reversed(window))
                joined = before + " " + m.group()
                if any(c.start() < len(before) for c in rules.before.finditer(joined)):
                    return True
        if any(g and rules.any.search(g) for g in m.groups()):
            return True
        if rules.after is not None:
            words = text[end:end + _WINDOW_CHARS].split("\n", 1)[0].split()
            window = _window(words, rules.breaks, rules.window_after)
            if window and rules.after.search(" ".join(window)):
                return True
        return False


def _window(words: Iterable[str], breaks: frozenset[str], size: int) -> list[str]:
    """Up to ``size`` words, stopping at a clause-break word such as "but"."""
    window: list[str] = []
    for word in words:
        if len(window) >= size or word in breaks:
            break
        window.append(word)
    return window


def _outside_gaps(m: re.Match[str]) -> str:
    """The matched words without those matched by ``...`` gaps."""
    parts, pos = [], m.start()
    for i in range(1, m.re.groups + 1):
        a, b = m.span(i)
        if a >= 0:
            parts.append(m.string[pos:a])
            pos = b
    parts.append(m.string[pos:m.end()])
    return " ".join(parts)


def _overlap(a: Hit, b: Hit) -> bool:
    """Overlapping spans of the same category."""
    return a.start < b.end and b.start < a.end and a.entry.category == b.entry.category


def _share_negation(hits: list[Hit], languages: frozenset[str] | None = None) -> list[Hit]:
    """Reconcile overlapping hits of one category.

    Several lexicons may match the same words ("suicider" matches en and fr stems): the
    negation found by one of them, with its own negation words, applies to the others --
    when that lexicon's language is one the message is plausibly in (``languages``; None:
    any). Arabic "ما" (not) found by the Arabic lexicon in a Pashto message, where "ما" is
    "me", is not passed on to the Pashto lexicon's hit.
    Then a negated hit overlapping a non-negated hit of the same lexicon is dropped: a
    longer pattern that includes the negation ("n'ai rien mangé") has asserted it.
    """
    if not any(h.negated for h in hits):
        return hits
    shared = [
        Hit(h.entry, h.start, h.end, True)
        if not h.negated and h.entry.negatable is not False and any(
            g.negated and g.entry.lexicon != h.entry.lexicon and _overlap(g, h)
            and (languages is None or not languages or g.entry.language in languages)
            for g in hits)
        else h
        for h in hits
    ]
    return [
        h for h in shared
        if not h.negated or not any(
            not g.negated and g.entry.lexicon == h.entry.lexicon and _overlap(g, h)
            for g in shared)
    ]

"""Find lexicon entries in normalized text, with idiom and negation rules.

All entries of all lexicons are merged into ONE prefix-tree regex that only finds the
token positions where some entry matches (a fast pass over every message). Only at those
positions are the candidate entries, indexed by first character, matched one by one.
Every pattern is built from whole-word pieces, possessive ``\\w*+`` stems and gaps of at
most a few words, so matching time stays linear in the text length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

from bot.screening.lexicon import Entry, Lexicon, Pattern, cue_regex

_WINDOW_CHARS = 400  # look this far (at most) around a match for negation cues
_MAX_HITS_PER_ENTRY = 8


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


def _start_regex(patterns: Sequence[Pattern], capture: bool) -> re.Pattern[str] | None:
    if not patterns:
        return None
    body = trie_regex(h for p in patterns for h in p.heads)
    return re.compile(r"(?<![^ \n])(?=" + (f"({body})" if capture else body) + ")")


class Matcher:
    """Finds entries of several lexicons in normalized text."""

    def __init__(self, lexicons: Sequence[Lexicon]) -> None:
        entries = [e for lex in lexicons for e in lex.entries]
        self._signals = _start_regex([e.pattern for e in entries], capture=False)
        self._idioms = _start_regex([i for lex in lexicons for i in lex.idioms], capture=True)
        by_char: dict[str, list[Entry]] = {}
        anywhere: list[Entry] = []
        for entry in entries:
            firsts = {prefix[:1] for prefix, _ in entry.pattern.heads}
            if "" in firsts:
                anywhere.append(entry)
                continue
            for ch in firsts:
                by_char.setdefault(ch, []).append(entry)
        self._by_char = {ch: tuple(es) for ch, es in by_char.items()}
        self._anywhere = tuple(anywhere)
        self._negation = {
            lex.id: _Negation(
                cue_regex(lex.negations), cue_regex(lex.negations_after),
                cue_regex(lex.negations + lex.negations_after), lex.clause_breaks,
                lex.negation_window, lex.negation_window_after,
            )
            for lex in lexicons
        }

    def find(self, text: str) -> list[Hit]:
        """All entries found in ``text`` (normalized), minus those inside an idiom.

        Each entry is reported at most _MAX_HITS_PER_ENTRY times (bounds the work on
        pathological input such as one phrase repeated thousands of times).
        Overlapping hits of one category share a negation (see ``_share_negation``).
        """
        if self._signals is None:
            return []
        starts = [m.start() for m in self._signals.finditer(text)]
        if not starts:
            return []
        idioms = ([m.span(1) for m in self._idioms.finditer(text)]
                  if self._idioms is not None else [])
        hits: list[Hit] = []
        counts: dict[int, int] = {}
        for pos in starts:
            for entry in chain(self._by_char.get(text[pos], ()), self._anywhere):
                if counts.get(id(entry), 0) >= _MAX_HITS_PER_ENTRY:
                    continue
                m = entry.pattern.regex.match(text, pos)
                if m is None:
                    continue
                start, end = m.span()
                if any(a < end and start < b for a, b in idioms):
                    continue
                negated = entry.negatable and self._negated(entry, text, m)
                counts[id(entry)] = counts.get(id(entry), 0) + 1
                hits.append(Hit(entry, start, end, negated))
        return _share_negation(hits)

    def _negated(self, entry: Entry, text: str, m: re.Match[str]) -> bool:
        rules = self._negation[entry.lexicon]
        start, end = m.span()
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
        if rules.any is not None and any(g and rules.any.search(g) for g in m.groups()):
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


def _share_negation(hits: list[Hit]) -> list[Hit]:
    """Several lexicons may match the same words ("suicider" matches en and fr stems); the
    negation found by one of them (with its own negation words) applies to all."""
    negated = [(h.start, h.end, h.entry.category) for h in hits if h.negated]
    if not negated:
        return hits
    return [
        Hit(h.entry, h.start, h.end, True)
        if not h.negated and h.entry.negatable and any(
            a < h.end and h.start < b and c == h.entry.category for a, b, c in negated)
        else h
        for h in hits
    ]

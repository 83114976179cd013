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
                lex.negation_window,
            )
            for lex in lexicons
        }

    def find(self, text: str) -> list[Hit]:
        """All entries found in ``text`` (normalized), minus those inside an idiom.

        An entry found several times is reported once if any occurrence is not negated.
        """
        if self._signals is None:
            return []
        starts = [m.start() for m in self._signals.finditer(text)]
        if not starts:
            return []
        idioms = ([m.span(1) for m in self._idioms.finditer(text)]
                  if self._idioms is not None else [])
        hits: list[Hit] = []
        settled: set[int] = set()
        for pos in starts:
            for entry in chain(self._by_char.get(text[pos], ()), self._anywhere):
                if id(entry) in settled:
                    continue
                m = entry.pattern.regex.match(text, pos)
                if m is None:
                    continue
                start, end = m.span()
                if any(a < end and start < b for a, b in idioms):
                    continue
                negated = entry.negatable and self._negated(entry, text, m)
                if not negated:
                    settled.add(id(entry))
                hits.append(Hit(entry, start, end, negated))
        return hits

    def _negated(self, entry: Entry, text: str, m: re.Match[str]) -> bool:
        rules = self._negation[entry.lexicon]
        start, end = m.span()
        if rules.before is not None:
            lo = max(0, start - _WINDOW_CHARS)
            words = text[lo:start].rsplit("\n", 1)[-1].split()
            if _has_cue(rules.before, reversed(words), rules, reverse=True):
                return True
        if rules.any is not None and any(g and rules.any.search(g) for g in m.groups()):
            return True
        if rules.after is not None:
            words = text[end:end + _WINDOW_CHARS].split("\n", 1)[0].split()
            if _has_cue(rules.after, words, rules, reverse=False):
                return True
        return False


def _has_cue(cue: re.Pattern[str], words: Iterable[str], rules: _Negation,
             reverse: bool) -> bool:
    window: list[str] = []
    for word in words:
        if len(window) >= rules.window or word in rules.breaks:
            break
        window.append(word)
    if reverse:
        window.reverse()
    return bool(window) and cue.search(" ".join(window)) is not None

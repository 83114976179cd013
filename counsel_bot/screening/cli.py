"""JSON-lines screening for ``counsel-bot screen`` (and ``python -m counsel_bot.screening.cli``).

Each input line is ``{"lang": "fr", "text": "..."}``; each output line is
``{"severity": ..., "categories": [...], "negated": ..., "review": ..., "languages": [...]}``
or, for a line that cannot be read, ``{"error": "...", "line": N}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from counsel_bot.screening.lexicon import LexiconError
from counsel_bot.screening.screener import DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES, Screener


def _screen_line(line: str, screener: Screener) -> dict[str, object]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from exc
    if not isinstance(item, dict):
        raise ValueError("expected a JSON object with 'text' (and optional 'lang')")
    text, lang = item.get("text"), item.get("lang")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    if lang is not None and not isinstance(lang, str):
        raise ValueError("'lang' must be a string or null")
    return screener.screen(text, lang).to_dict()


def run_screen(stdin: TextIO, stdout: TextIO, screener: Screener) -> int:
    """Screen JSON lines from ``stdin`` to ``stdout``; blank lines are skipped.

    A bad line yields an ``error`` line and screening continues. Returns 0 if every line
    was screened, 1 if any line was bad.
    """
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            out = _screen_line(line, screener)
        except ValueError as exc:
            out = {"error": str(exc), "line": number}
            status = 1
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m counsel_bot.screening.cli [--locales DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locales", type=Path, default=DEFAULT_LOCALES_DIR)
    parser.add_argument("--languages", default=",".join(SUPPORTED_LANGUAGES))
    parser.add_argument("--explain", metavar="TEXT",
                        help="print which lexicon entries match TEXT, and exit")
    args = parser.parse_args(argv)
    try:
        screener = Screener.from_locales(args.locales, args.languages.split(","))
    except LexiconError as exc:
        print(f"screen: {exc}", file=sys.stderr)
        return 2
    if args.explain is not None:
        print(json.dumps(screener.screen(args.explain).to_dict(), ensure_ascii=False))
        for line in screener.explain(args.explain):
            print(line)
        return 0
    return run_screen(sys.stdin, sys.stdout, screener)


if __name__ == "__main__":
    sys.exit(main())

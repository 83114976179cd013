"""Fixtures for the screening tests: the real lexicons (loaded once) and a tiny lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest

from counsel_bot.screening import DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES, Screener

TINY = """\
# test lexicon
language: xx
negations: ["not", "never"]
idioms: ["dying to"]
groups:
  passport: ["passport*", "papers"]
categories:
  suicide_self_harm:
    - {pattern: "kill* myself", severity: urgent}
    - {pattern: "hurt* myself", severity: high}
  trafficking_exploitation:
    - {pattern: "took my {passport}", severity: high}
"""


@pytest.fixture(scope="session")
def screener() -> Screener:
    return Screener.from_locales(DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES)


@pytest.fixture
def write_lexicon(tmp_path: Path):
    """Write ``<tmp>/<lang>/distress.yaml`` and return (locales dir, file path)."""

    def write(text: str = TINY, lang: str = "xx") -> tuple[Path, Path]:
        path = tmp_path / lang / "distress.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return tmp_path, path

    return write

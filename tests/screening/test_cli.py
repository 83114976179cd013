"""The JSON-lines screening function behind `counsel-bot screen`."""

from __future__ import annotations

import io
import json

from counsel_bot.screening import Screener
from counsel_bot.screening.cli import main, run_screen


def run(screener: Screener, lines: list[str]) -> tuple[int, list[dict]]:
    out = io.StringIO()
    status = run_screen(io.StringIO("\n".join(lines) + "\n"), out, screener)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_output_line_per_input_line(screener: Screener) -> None:
    status, out = run(screener, [
        json.dumps({"lang": "fr", "text": "Je veux mourir"}),
        json.dumps({"lang": "en", "text": "hello"}),
        json.dumps({"text": "I would never hurt myself"}),
        json.dumps({"lang": "fa", "text": "می‌خواهم بمیرم"}, ensure_ascii=False),
    ])
    assert status == 0
    assert [o["severity"] for o in out] == ["urgent", "none", "none", "urgent"]
    assert out[0] == {"severity": "urgent", "categories": ["suicide_self_harm"],
                      "negated": False, "review": False, "languages": ["fr"]}
    assert out[2]["categories"] == ["suicide_self_harm"] and out[2]["review"] is True


def test_bad_lines_give_an_error_and_screening_continues(screener: Screener) -> None:
    status, out = run(screener, [
        "not json",
        "[1, 2]",
        json.dumps({"lang": "en"}),
        json.dumps({"lang": 5, "text": "hi"}),
        "",
        json.dumps({"lang": "en", "text": "they took my passport"}),
    ])
    assert status == 1
    assert len(out) == 5  # the blank line is skipped
    assert [("error" in o) for o in out] == [True, True, True, True, False]
    assert [o.get("line") for o in out[:4]] == [1, 2, 3, 4]
    assert out[4]["severity"] == "high"


def test_explain_names_the_lexicon_entry(screener: Screener, capsys) -> None:
    line, *concept_lines = screener.explain("I would never kill myself")
    assert line.startswith("urgent (negated) suicide_self_harm: 'kill myself' <- ")
    assert "locales/en/distress.yaml: categories.suicide_self_harm[0].patterns[" in line
    assert any(c.startswith("urgent (negated) suicide_self_harm: 'kill myself' <- ")
               and "distress_rules.yaml: entries.suicide_self_harm[" in c
               for c in concept_lines)
    assert main(["--explain", "je veux mourir"]) == 0
    assert "fr/distress.yaml" in capsys.readouterr().out


def test_main_reports_a_bad_lexicon(tmp_path, capsys) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "distress.yaml").write_text("categories: [", encoding="utf-8")
    assert main(["--locales", str(tmp_path), "--languages", "en"]) == 2
    assert "distress.yaml" in capsys.readouterr().err

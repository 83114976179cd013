"""The console door, driven as a subprocess exactly as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shipped_context


def run_demo(tmp_path: Path, lines: list[str], *args: str,
             env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
           "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key"), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "counsel_bot.cli", "demo", *args], input="\n".join(lines) + "\n",
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def every_file_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_demo_in_french_through_onboarding_consent_and_information(tmp_path, project_root):
    fr = shipped_context().translator("fr")  # the project's and the sample's catalogues
    result = run_demo(tmp_path, ["1", "2", "1", "2"], "--lang", "fr")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Bienvenue" in out
    assert fr("Which language would you like to use?") not in out  # --lang skips the question
    assert "  1. " + fr("Yes, I agree") in out
    assert fr("Services available in {country}:", country=fr.content("Sampleland")) in out
    assert fr.content("Temporary shelter (SAMPLE)") in out
    assert "Traceback" not in result.stderr


def test_demo_asks_for_a_language_by_its_own_name(tmp_path):
    result = run_demo(tmp_path, ["3"])  # the third language offered
    assert result.returncode == 0, result.stderr
    for name in ("Français", "العربية", "فارسی", "Español", "Русский"):
        assert name in result.stdout
    assert "اللغة: العربية" in result.stdout


def test_labels_and_commands_work_in_the_console(tmp_path):
    result = run_demo(tmp_path, ["English", "Yes, I agree", "/privacy", "/nonsense", ""],)
    out = result.stdout
    assert "Your permissions:" in out
    assert "I do not know that command" in out
    assert "I received an empty message" in out


def test_the_data_folder_keeps_no_readable_trace_of_what_was_typed(tmp_path):
    words = ["Amina Haddad lives at 12 Rue des Lilas", "je veux mourir", "أنا خائف جدا"]
    result = run_demo(tmp_path, ["1", *words, "1", "1", "2"], "--lang", "ar")
    assert result.returncode == 0, result.stderr
    data = every_file_bytes(tmp_path / "data")
    assert data, "the demo stored nothing"
    for text in [*words, "console:local", '"ar"', "counselling"]:
        assert text.encode("utf-8") not in data
        assert text.encode("unicode_escape") not in data


def test_a_wrong_key_is_refused_clearly_and_destroys_nothing(tmp_path):
    run_demo(tmp_path, ["1"], "--lang", "en")
    before = {p: p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()}
    other_key = "A" * 43 + "="
    result = run_demo(tmp_path, ["1"], "--lang", "en", env_extra={"COUNSEL_BOT_KEY": other_key})
    assert result.returncode == 2
    assert "key" in result.stderr.lower() and "Traceback" not in result.stderr
    assert other_key not in result.stderr
    after = {p: p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_rtl_languages_run_in_the_console(tmp_path, lang):
    result = run_demo(tmp_path, ["2"], "--lang", lang)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "fa", "es", "ru", "ps", "ur", "uk", "so",
                                  "ti", "bn"])
def test_every_language_gets_the_onboarding_through_the_console(tmp_path, project_root, lang):
    """The French-style onboarding (consent, then the information) in each of the twelve."""
    tr = shipped_context().translator(lang)  # the project's and the sample's catalogues
    result = run_demo(tmp_path, ["1", "2", "1", "2"], "--lang", lang)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert tr("Which language would you like to use?") not in out
    assert "  1. " + tr("Yes, I agree") in out
    assert tr("Services available in {country}:", country=tr.content("Sampleland")) in out
    assert tr.content("Temporary shelter (SAMPLE)") in out
    assert tr.content("Temporary shelter (SAMPLE)") != "Temporary shelter (SAMPLE)" or \
        lang == "en"
    assert "Traceback" not in result.stderr

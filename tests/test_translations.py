"""The translation check that CI runs, and the Babel extractor behind `pybabel extract`."""

from __future__ import annotations

import io
import subprocess
import sys

from counsel_bot.cli.i18n_check import check_all
from counsel_bot.config.settings import Settings
from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES, language_name
from counsel_bot.i18n.extract import extract_dialogs


def test_all_catalogues_are_complete_and_the_template_is_fresh():
    problems = check_all(Settings.from_env({}))
    assert problems == []


def test_extractor_yields_only_user_facing_strings_with_lines():
    source = b"""flow: x
start: a
steps:
  a:
    type: message
    text: Hello {name}
    next: b
  b:
    type: menu
    text: Pick
    options:
      - label: One
        goto: a
code: XS
phone: "+000"
"""
    found = list(extract_dialogs(io.BytesIO(source), [], [], {}))
    assert [(line, text) for line, _, text, _ in found] == [(6, "Hello {name}"), (10, "Pick"),
                                                           (12, "One")]


def test_pybabel_extract_uses_the_registered_extractor(tmp_path, project_root):
    out = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(project_root / "babel.cfg"), "-o", str(out), str(project_root)],
                   check=True, cwd=project_root, capture_output=True)
    pot = out.read_text(encoding="utf-8")
    assert 'msgid "Which language would you like to use?"' in pot
    # the sample deployment's texts are in its own catalogue (dialogs/sample/locales), not here
    assert "Sampleland" not in pot


def test_language_names_are_shown_in_themselves():
    names = [language_name(lang) for lang in SUPPORTED_LANGUAGES]
    assert names == ["English", "Français", "العربية", "فارسی", "Español", "Русский"]

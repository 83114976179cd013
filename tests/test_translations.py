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
    assert names == ["English", "Français", "العربية", "فارسی", "Español", "Русский", "پښتو",
                     "اردو", "Українська", "Soomaali", "ትግርኛ", "বাংলা"]


def test_catalogues_written_by_the_project_are_drafts_until_reviewed(project_root, tmp_path):
    """Each catalogue's header says whether a native speaker reviewed it; i18n-check names
    the enabled languages that are still drafts."""
    import shutil

    from counsel_bot.cli.i18n_check import unreviewed
    from counsel_bot.i18n.catalogs import read_catalog, review_state

    locales = project_root / "locales"
    for lang in SUPPORTED_LANGUAGES:
        if lang != "en":
            assert review_state(read_catalog(locales, lang)) == "draft", lang
            assert "native speaker must" in read_catalog(locales, lang).header_comment
    assert unreviewed(locales, ["en", "ps", "ur"]) == ["ps", "ur"]
    copy = tmp_path / "locales"
    shutil.copytree(locales, copy)
    po = copy / "ps" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace(
        "# review: draft.", "# review: done by A. Reviewer, 2026-12-01.", 1), encoding="utf-8")
    assert unreviewed(copy, ["en", "ps", "ur"]) == ["ur"]


def test_i18n_check_reports_the_unreviewed_enabled_languages(capsys):
    from counsel_bot.cli.main import main

    assert main(["i18n-check"]) == 0
    out = capsys.readouterr().out
    assert "unreviewed" in out and "ps, ur, uk, so, ti, bn" in out
    assert "translations: complete" in out

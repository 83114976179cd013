"""The loader refuses a broken flow at start-up, naming the file and the step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from counsel_bot.engine.dialogs import DialogError, load_dialogs
from counsel_bot.i18n.catalogs import Catalogs


@pytest.fixture
def dialogs_copy(tmp_path: Path, project_root: Path) -> Path:
    target = tmp_path / "dialogs"
    shutil.copytree(project_root / "dialogs", target)
    return target


@pytest.fixture
def catalogs(context) -> Catalogs:
    return context.catalogs


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_dialogs_load(project_root, catalogs):
    dialogs = load_dialogs(project_root / "dialogs", catalogs)
    assert {"onboarding", "info", "privacy"} <= set(dialogs.starts)


def test_unknown_goto_is_named(dialogs_copy, catalogs):
    edit(dialogs_copy / "info.yaml", "goto: rumours", "goto: rumors")
    with pytest.raises(DialogError, match=r"info\.yaml: step 'menu': goto 'info\.rumors'"):
        load_dialogs(dialogs_copy, catalogs)


def test_unreachable_step_is_named(dialogs_copy, catalogs):
    edit(dialogs_copy / "info.yaml", "      - label: Rumours and facts\n        goto: rumours\n",
         "")
    with pytest.raises(DialogError, match=r"info\.yaml: step 'rumours' is unreachable"):
        load_dialogs(dialogs_copy, catalogs)


def test_untranslated_text_is_named_with_file_step_and_language(dialogs_copy, catalogs):
    edit(dialogs_copy / "info.yaml", "What to prepare and bring:\n",
         "What to prepare and bring, and a new sentence:\n")
    with pytest.raises(DialogError) as caught:
        load_dialogs(dialogs_copy, catalogs)
    message = str(caught.value)
    assert "info.yaml:" in message and "step 'prepare'" in message
    for lang in ("fr", "ar", "fa", "es", "ru"):
        assert f"({lang}) translation" in message


def test_placeholder_mismatch_is_refused(dialogs_copy, tmp_path, project_root):
    locales = tmp_path / "locales"
    shutil.copytree(project_root / "locales", locales)
    po = locales / "fr" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    msgid = 'Services available in {country}:'
    catalog[msgid].string = "Services disponibles au {pays} :"
    with po.open("wb") as fh:
        write_po(fh, catalog)
    catalogs = Catalogs.load(locales, ["en", "fr"])
    with pytest.raises(DialogError, match=r"info\.yaml:\d+ \(step 'services'\): the fr "
                                          r"translation .* has placeholders \['pays'\]"):
        load_dialogs(dialogs_copy, catalogs)


def test_fuzzy_translation_counts_as_missing(dialogs_copy, tmp_path, project_root):
    locales = tmp_path / "locales"
    shutil.copytree(project_root / "locales", locales)
    po = locales / "es" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="es")
    catalog["How the process works"].flags.add("fuzzy")
    with po.open("wb") as fh:
        write_po(fh, catalog)
    with pytest.raises(DialogError, match=r"no Español \(es\) translation"):
        load_dialogs(dialogs_copy, Catalogs.load(locales, ["en", "es"]))


def test_missing_required_key(dialogs_copy, catalogs):
    edit(dialogs_copy / "onboarding.yaml", "    on_decline: declined_counselling\n", "")
    with pytest.raises(DialogError, match=r"onboarding\.yaml: step 'consent_counselling': "
                                          r"missing on_decline"):
        load_dialogs(dialogs_copy, catalogs)

"""The office's questions (dialogs/questions.yaml) are data, checked when loaded; a
deployment's copy replaces the shipped file, and its flows replace shipped flows by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from counsel_bot.engine.dialogs import DialogError, load_dialogs


@pytest.fixture
def own(tmp_path: Path, project_root: Path) -> Path:
    """A deployment's dialogs folder holding a copy of the shipped questions."""
    folder = tmp_path / "dialogs"
    folder.mkdir()
    shutil.copy(project_root / "dialogs" / "questions.yaml", folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_questions_load_with_every_need(project_root):
    dialogs = load_dialogs(project_root / "dialogs")
    assert dialogs.questions.needs == ("shelter", "food", "health", "money", "work", "safety",
                                       "documents", "family")
    assert dialogs.questions.checkin.question == "How are you doing today?"
    assert dialogs.system["need_work"] == "Work"  # what the desks show for a recorded need


def test_a_deployments_copy_replaces_the_shipped_questions(project_root, own):
    edit(own / "questions.yaml", "question: How are you doing today?", "question: Slept well?")
    edit(own / "questions.yaml", "- {code: family, label: Family}",
         "- {code: family, label: Family}\n        - {code: school, label: School}")
    dialogs = load_dialogs(project_root / "dialogs", overrides=own)
    assert dialogs.questions.checkin.question == "Slept well?"
    assert dialogs.questions.needs[-1] == "school" and dialogs.system["need_school"] == "School"


def test_a_deployments_flow_replaces_the_shipped_flow_of_that_name(project_root, tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    info = (project_root / "dialogs" / "info.yaml").read_text(encoding="utf-8")
    (folder / "my-info.yaml").write_text(info.replace(
        "What would you like to know? Choose a topic.", "Pick a topic."), encoding="utf-8")
    dialogs = load_dialogs(project_root / "dialogs", overrides=folder)
    assert dialogs.start_of("info").text == "Pick a topic."


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("      - 5, very good\n", "", "questions.checkin.scale: List should have at least 5 items"),
    ("        - {code: safety, label: Safety}\n", "",
     'questions.checkin.needs: the need "safety" must stay'),
    ("{partner} may be able", "{partnr} may be able",
     "questions.referral.offer: uses {partnr}, which the bot does not fill here; allowed "
     "placeholders: {partner}, {description}"),
    ("    place: \"Where: {place}\"", "    plaec: \"Where: {place}\"",
     "questions.session_notice.place: missing"),
    ("    snooze: Ask me tomorrow\n", "    snooze: Ask me tomorrow\n    snoze: x\n",
     "questions.checkin.snoze: unknown key"),
])
def test_a_broken_question_is_refused_naming_the_file_and_key(project_root, own, old, new,
                                                              problem):
    edit(own / "questions.yaml", old, new)
    with pytest.raises(DialogError) as refused:
        load_dialogs(project_root / "dialogs", overrides=own)
    assert f"{own / 'questions.yaml'}: {problem}" in str(refused.value)


def test_a_changed_question_without_translation_is_refused(project_root, own, context):
    edit(own / "questions.yaml", "question: How are you doing today?", "question: Slept well?")
    with pytest.raises(DialogError, match=r"questions\.yaml:\d+ \(questions\.checkin\.question"
                                          r"\): no Français \(fr\) translation for 'Slept well\?'"):
        load_dialogs(project_root / "dialogs", context.catalogs, overrides=own)

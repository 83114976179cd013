"""The package as pip builds it: every code folder listed, the content folders mapped in."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def _listed() -> set[str]:
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(data["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    folders = {".".join(path.parent.relative_to(PROJECT_ROOT).parts)
               for path in (PROJECT_ROOT / "counsel_bot").rglob("__init__.py")}
    assert folders <= _listed()
    assert {"counsel_bot.dialogs", "counsel_bot.locales"} <= _listed()


def test_packaged_content_is_found_through_the_package() -> None:
    from counsel_bot.config.resources import packaged_dialogs, packaged_locales

    assert (packaged_dialogs() / "onboarding.yaml").is_file()
    assert (packaged_locales() / "fr" / "LC_MESSAGES" / "messages.po").is_file()
    assert (packaged_locales() / "fr" / "distress.yaml").is_file()
    assert Path(packaged_dialogs(), "sample", "countries").is_dir()
    assert Path(packaged_dialogs(), "sample", "locales", "fr", "LC_MESSAGES",
                "deployment.po").is_file()

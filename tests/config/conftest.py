"""A copy of the shipped sample deployment in a temporary folder, edited line by line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from counsel_bot.config.resources import packaged_dialogs

Configure = Callable[..., Path]


def _edit(text: str, changes: dict[str, str], name: str) -> str:
    for old, new in changes.items():
        assert text.count(old) == 1, f"{old!r} should occur once in {name}"
        text = text.replace(old, new)
    return text


@pytest.fixture
def configure(tmp_path: Path) -> Configure:
    """`configure(deployment={old: new}, country={old: new}, files={name: text})` writes the
    sample deployment with those replacements and returns the deployment file's path."""

    def write(deployment: dict[str, str] | None = None, country: dict[str, str] | None = None,
              files: dict[str, str] | None = None) -> Path:
        root = tmp_path / "deployment"
        sample = packaged_dialogs() / "sample"
        shutil.copytree(sample, root, dirs_exist_ok=True)  # its catalogues too
        path = root / "deployment.yaml"
        path.write_text(_edit((sample / "deployment.yaml").read_text(encoding="utf-8"),
                              deployment or {}, path.name), encoding="utf-8")
        (root / "countries" / "XS.yaml").write_text(
            _edit((sample / "countries" / "XS.yaml").read_text(encoding="utf-8"),
                  country or {}, "XS.yaml"), encoding="utf-8")
        for name, text in (files or {}).items():
            (root / name).write_text(text, encoding="utf-8")
        return path

    return write

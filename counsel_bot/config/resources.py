"""The content that ships inside the package: flows, the sample deployment, catalogues and
distress lexicons, found with `importlib.resources` wherever the package is installed.

In a checkout they are the top-level `dialogs/` and `locales/` folders (mapped into the
package by `pyproject.toml`); in a wheel they sit inside the installed package.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _folder(package: str) -> Path:
    path = Path(str(files(package)))
    if not path.is_dir():  # a zipped install would need extracting; wheels install unzipped
        raise RuntimeError(f"the packaged content {package} is not a folder: {path}")
    return path


def packaged_dialogs() -> Path:
    """The shipped flows and system texts (`dialogs/`)."""
    return _folder("counsel_bot.dialogs")


def packaged_locales() -> Path:
    """The shipped catalogues and lexicons (`locales/`)."""
    return _folder("counsel_bot.locales")


def sample_deployment() -> Path:
    """The shipped sample deployment: invented facts, marked as a sample wherever shown."""
    return packaged_dialogs() / "sample" / "deployment.yaml"

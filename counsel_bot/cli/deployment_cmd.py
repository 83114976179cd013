"""`counsel-bot deployment ...`: a deployment's own folder and its catalogues.

`catalogues DIR` extracts every text of the deployment's YAML with the project's extractor
(the `counsel_dialogs` Babel entry point, as `pybabel extract -F DIR/babel.cfg` does) into
DIR/locales/deployment.pot, and creates or updates DIR/locales/<lang>/LC_MESSAGES/deployment.po
for each enabled language, keeping every translation already made.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

from counsel_bot.i18n.catalogs import DEPLOYMENT_DOMAIN, deployment_po_path, deployment_pot_path

BABEL_CFG = """\
# The deployment's own texts, extracted with counsel-bot's extractor:
#   counsel-bot deployment catalogues .
# (the same as: pybabel extract -F babel.cfg -o locales/deployment.pot .)
[counsel_dialogs: **.yaml]
"""


def _pybabel(*args: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        CommandLineInterface().run(["pybabel", "-q", *args])


def update_catalogues(folder: Path, languages: Iterable[str]) -> list[Path]:
    """Extract the deployment's texts and bring each language's catalogue up to date."""
    cfg = folder / "babel.cfg"
    if not cfg.is_file():
        cfg.write_text(BABEL_CFG, encoding="utf-8")
    pot = deployment_pot_path(folder)
    pot.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(folder):  # locations relative to the deployment's folder
        _pybabel("extract", "-F", "babel.cfg", "-o", str(pot.relative_to(folder)),
                 "--sort-by-file", "-w", "100", "--project", "deployment", ".")
    written = [pot]
    for lang in languages:
        po = deployment_po_path(folder, lang)
        if po.is_file():
            _pybabel("update", "--no-fuzzy-matching", "-D", DEPLOYMENT_DOMAIN, "-w", "100",
                     "-l", lang, "-i", str(pot), "-d", str(folder / "locales"))
        else:
            _pybabel("init", "-D", DEPLOYMENT_DOMAIN, "-w", "100", "-l", lang, "-i", str(pot),
                     "-d", str(folder / "locales"))
        written.append(po)
    return written

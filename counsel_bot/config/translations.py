"""A deployment's own texts in every language it enables.

The organisation's name, the services, rumours, offices, contacts and partners are written
by the country office in one language (`source_language`) and translated in the
deployment's own gettext catalogues, `<deployment>/locales/<lang>/LC_MESSAGES/deployment.po`,
extracted from its YAML by the project's extractor (`counsel_dialogs`, see babel.cfg in the
deployment's folder). A text without a translation is named here by file, key and language.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale

from counsel_bot.config.deployment import ConfigError, Configuration, Deployment, Problem
from counsel_bot.i18n.catalogs import DeploymentTexts, deployment_po_path
from counsel_bot.i18n.extract import keyed_texts_in_yaml


def deployment_texts(deployment: Deployment) -> DeploymentTexts:
    """The deployment's catalogues, read for each enabled language."""
    folder = deployment.folder or Path(".")
    return DeploymentTexts.load(folder, deployment.languages, deployment.source_language,
                                deployment.show_untranslated)


def content_texts(files: tuple[Path, ...]) -> list[tuple[Path, str, int, str]]:
    """(file, key, line, text) for every text a returnee may read from these files."""
    return [(path, key, line, text) for path in files
            for key, line, text in keyed_texts_in_yaml(path.read_text(encoding="utf-8"))]


def _in_english(lang: str) -> str:
    """A language named for the administrator ("Arabic"), as the other messages are."""
    return str(Locale.parse(lang).get_display_name("en") or lang)


def _short(text: str) -> str:
    return text if len(text) < 60 else text[:57] + "..."


def untranslated(config: Configuration, texts: DeploymentTexts) -> list[Problem]:
    """Every text of the deployment's files that lacks a translation in an enabled language."""
    deployment = config.deployment
    if deployment is None:
        return []
    folder = deployment.folder or config.path.parent
    problems = []
    for path, key, line, text in content_texts(config.files):
        for lang in deployment.languages:
            if lang == texts.source or texts.by_language.get(lang, {}).get(text):
                continue
            po = deployment_po_path(folder, lang)
            where = po.relative_to(folder) if po.is_relative_to(folder) else po
            missing = "" if po.is_file() else " (that file does not exist yet)"
            problems.append(Problem(
                path, key, f"no {_in_english(lang)} ({lang}) translation in "
                f"{where}{missing} for {_short(text)!r}", line))
    return problems


def check_translations(config: Configuration, texts: DeploymentTexts) -> list[Problem]:
    """The problems that stop start-up: none when the deployment shows the source text."""
    return [] if texts.show_source else untranslated(config, texts)


def require_translations(config: Configuration, texts: DeploymentTexts) -> None:
    problems = check_translations(config, texts)
    if problems:
        raise ConfigError(problems)

"""The translation check run in CI: a stale template, a missing, fuzzy or mismatched entry."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from counsel_bot.config.deployment import read_config
from counsel_bot.config.settings import Settings
from counsel_bot.config.translations import content_texts, deployment_texts, untranslated
from counsel_bot.engine.dialogs import DialogError, content_files, load_dialogs
from counsel_bot.i18n.catalogs import (
    SOURCE_LANGUAGE,
    SUPPORTED_LANGUAGES,
    CatalogError,
    Catalogs,
    deployment_pot_path,
    placeholders,
    po_path,
    read_catalog,
    review_state,
)
from counsel_bot.i18n.extract import texts_in_file

REFRESH = ("run: pybabel extract -F babel.cfg -o locales/messages.pot . && "
           "pybabel update -i locales/messages.pot -d locales")


def _template_ids(locales_dir: Path) -> set[str]:
    with (locales_dir / "messages.pot").open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id and isinstance(m.id, str)}


def check_template(dialogs_dir: Path, locales_dir: Path) -> list[str]:
    wanted = {text for path in content_files(dialogs_dir) for _, text in texts_in_file(path)}
    have = _template_ids(locales_dir)
    problems = [f"messages.pot lacks {t[:60]!r} ({REFRESH})" for t in sorted(wanted - have)]
    problems += [f"messages.pot has a text no dialog uses: {t[:60]!r} ({REFRESH})"
                 for t in sorted(have - wanted)]
    return problems


def check_language(locales_dir: Path, lang: str, msgids: set[str],
                   path: Path | None = None) -> list[str]:
    path = path or po_path(locales_dir, lang)
    if not path.exists():
        return [f"{path}: missing catalogue"]
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    problems = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        short = msgid[:60]
        if message is None or not message.string:
            problems.append(f"{path}: no translation for {short!r}")
        elif message.fuzzy:
            problems.append(f"{path}: fuzzy translation for {short!r}")
        elif placeholders(str(message.string)) != placeholders(msgid):
            problems.append(f"{path}: placeholders differ for {short!r}: "
                            f"{sorted(placeholders(str(message.string)))}")
    return problems


DESK_REFRESH = ("run: pybabel extract -F babel-desk.cfg -k N_ -k tr --no-location -o "
                "locales/desk.pot . && pybabel update --no-fuzzy-matching -D desk -i "
                "locales/desk.pot -d locales")


def desk_texts_in_source() -> set[str]:
    """What the web desk's templates and code give to gettext, extracted as pybabel does."""
    from importlib import resources

    from babel.messages.extract import extract_from_dir

    web = resources.files("counsel_bot.web")
    found = extract_from_dir(str(web), method_map=[("**.py", "python"),
                                                   ("templates/**.html", "jinja2")],
                             keywords={"N_": None, "tr": None, "_": None})
    return {message for _file, _line, message, _comments, _context in found
            if isinstance(message, str)}


def check_desk(locales_dir: Path) -> list[str]:
    """The web desk's catalogue (domain "desk"): fresh, and complete where it must be."""
    from counsel_bot.web.texts import DESK_LANGUAGES, desk_po

    with (locales_dir / "desk.pot").open("rb") as fh:
        have = {m.id for m in read_po(fh) if m.id and isinstance(m.id, str)}
    wanted = desk_texts_in_source()
    problems = [f"desk.pot lacks {t[:60]!r} ({DESK_REFRESH})" for t in sorted(wanted - have)]
    problems += [f"desk.pot has a text the desk does not use: {t[:60]!r} ({DESK_REFRESH})"
                 for t in sorted(have - wanted)]
    for lang in DESK_LANGUAGES:
        problems += check_language(locales_dir, lang, have, desk_po(locales_dir, lang))
    return problems


def check_deployment(settings: Settings) -> list[str]:
    """The deployment's own texts (COUNSEL_BOT_CONFIG, else the sample): its template is
    fresh, and each text is translated into every enabled language (even when the
    deployment allows showing the source text, which start-up then accepts)."""
    config = read_config(settings.config_path)
    if config.deployment is None:
        return [str(p) for p in config.problems]
    deployment = config.deployment
    folder = deployment.folder or settings.config_path.parent
    refresh = f"run: counsel-bot deployment catalogues {folder}"
    pot = deployment_pot_path(folder)
    wanted = {text for *_, text in content_texts(config.files)}
    if deployment.dialogs_dir is not None:
        wanted |= {text for path in content_files(deployment.dialogs_dir)
                   for _, text in texts_in_file(path)}
    if not pot.is_file():
        return [f"{pot}: missing ({refresh})"]
    with pot.open("rb") as fh:
        have = {m.id for m in read_po(fh) if m.id and isinstance(m.id, str)}
    problems = [f"{pot} lacks {t[:60]!r} ({refresh})" for t in sorted(wanted - have)]
    texts = deployment_texts(deployment)
    problems += [str(p) for p in untranslated(config, texts)]
    if deployment.dialogs_dir is not None:  # its own flows: translated as start-up wants
        catalogs = Catalogs.load(settings.locales_dir, deployment.languages, texts)
        try:
            load_dialogs(settings.dialogs_dir, catalogs, deployment.dialogs_dir)
        except DialogError as exc:
            problems.append(str(exc))
    return problems


def check_all(settings: Settings) -> list[str]:
    problems = check_template(settings.dialogs_dir, settings.locales_dir)
    msgids = _template_ids(settings.locales_dir)
    for lang in SUPPORTED_LANGUAGES:
        problems += check_language(settings.locales_dir, lang, msgids)
    return problems + check_desk(settings.locales_dir) + check_deployment(settings)


def unreviewed(locales_dir: Path, languages: list[str] | tuple[str, ...]) -> list[str]:
    """The languages among `languages` whose catalogue no native speaker has reviewed yet
    (its header still says "review: draft"); the source language needs no review."""
    found = []
    for lang in languages:
        if lang == SOURCE_LANGUAGE:
            continue
        try:
            if review_state(read_catalog(locales_dir, lang)) != "done":
                found.append(lang)
        except CatalogError:
            continue  # check_language names the missing catalogue
    return found


def enabled_languages(settings: Settings) -> list[str]:
    """The languages the deployment enables (all supported ones when it cannot be read:
    `config check` explains a broken deployment)."""
    from counsel_bot.config.deployment import ConfigError, load_deployment

    try:
        return list(load_deployment(settings.config_path).languages)
    except ConfigError:
        return list(SUPPORTED_LANGUAGES)

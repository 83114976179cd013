"""The desk's own texts: a gettext domain of their own, "desk", beside the bot's "messages".

Separate because the bot's catalogue is checked against the dialog YAML (every msgid must come
from a dialog); the desk's come from its Jinja2 templates and this package, extracted with
Babel (`babel-desk.cfg`) into `locales/desk.pot` and `locales/<lang>/LC_MESSAGES/desk.po`.
Texts the bot already has (statuses, severities, categories, reasons, needs) are taken from
the bot's catalogue, so both doors say them alike.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations

from counsel_bot.i18n.catalogs import Translator, compile_catalog

DOMAIN = "desk"
DESK_LANGUAGES = ("en", "fr", "ar")  # complete, checked by `counsel-bot i18n-check`


def N_(text: str) -> str:
    """Marks a source text for extraction; translated where it is shown."""
    return text


def desk_po(locales_dir: Path, lang: str) -> Path:
    return locales_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_desk_texts(locales_dir: Path, languages: tuple[str, ...]) -> dict[str, Translator]:
    """A translator per language; a language without a desk catalogue reads English."""
    texts = {}
    for lang in languages:
        path = desk_po(locales_dir, lang)
        if path.exists():
            with path.open("rb") as fh:
                translations = compile_catalog(read_po(fh, locale=lang))
        else:
            translations = Translations()
        texts[lang] = Translator(lang, translations)
    return texts

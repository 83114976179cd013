"""Languages the gettext way: .po catalogues compiled in memory, Babel for formatting.

The .po files are the single source of translations; they are compiled to gettext's binary
form at start-up, so a content author's edit needs no build step.
"""

from __future__ import annotations

import io
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time, get_timezone_name
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from babel.units import format_unit

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fr", "ar", "fa", "es", "ru",
                                         "ps", "ur", "uk", "so", "ti", "bn")
RTL_LANGUAGES = frozenset({"ar", "fa", "ps", "ur", "he"})
SOURCE_LANGUAGE = "en"

# The review state of a catalogue is a line of its header comment, because gettext headers
# that Babel does not know are dropped by `pybabel update`, while the comment is kept:
#   "# review: draft ..."  written by the project; a native speaker must review it before a
#                          deployment enables the language;
#   "# review: done ..."   reviewed (say by whom and when on the same line).
REVIEW_LINE = re.compile(r"^#?\s*review:\s*(\w+)", re.IGNORECASE | re.MULTILINE)
DRAFT_HEADER = ("review: draft. Written by the counsel-bot project: a native speaker must "
                "review this catalogue before a deployment enables the language. When done, "
                "change this line to \"review: done by NAME, DATE\".")

# Unicode directional marks: an RTL message starts with RLM so that a line opening with a
# number or a Latin word keeps the right-to-left base direction; phone numbers and links
# are isolated as left-to-right runs so their digits do not get reordered.
RLM = "\u200f"
LRI, PDI = "\u2066", "\u2069"


class CatalogError(Exception):
    """A catalogue is missing or cannot be read."""


def placeholders(text: str) -> frozenset[str]:
    """The `{name}` fields of a format string."""
    names = set()
    for _literal, field, _spec, _conv in string.Formatter().parse(text):
        if field is not None:
            names.add(field)
    return frozenset(names)


def po_path(locales_dir: Path, lang: str) -> Path:
    return locales_dir / lang / "LC_MESSAGES" / "messages.po"


DEPLOYMENT_DOMAIN = "deployment"
# The note shown after a deployment's text that is not yet translated (when the deployment
# allows showing the source text), in the returnee's language: the system text
# `untranslated_note` of dialogs/system.yaml, which the flow loader holds to this wording.
UNTRANSLATED_NOTE = "[not yet translated into your language]"


def deployment_po_path(folder: Path, lang: str) -> Path:
    """A deployment's own catalogue: <deployment>/locales/<lang>/LC_MESSAGES/deployment.po"""
    return folder / "locales" / lang / "LC_MESSAGES" / f"{DEPLOYMENT_DOMAIN}.po"


def deployment_pot_path(folder: Path) -> Path:
    return folder / "locales" / f"{DEPLOYMENT_DOMAIN}.pot"


def usable_translations(catalog: Catalog) -> dict[str, str]:
    """msgid -> msgstr for every entry that is translated and not fuzzy."""
    return {m.id: m.string for m in catalog
            if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
            and not m.fuzzy}


@dataclass(frozen=True)
class DeploymentTexts:
    """A deployment's own translations: its facts (written in `source`) and the texts of the
    flows it overrides (written in English), per language."""

    source: str
    by_language: Mapping[str, Mapping[str, str]]
    show_source: bool = False  # a missing translation shows the source text with a note

    @classmethod
    def load(cls, folder: Path, languages: Iterable[str], source: str,
             show_source: bool = False) -> DeploymentTexts:
        found: dict[str, dict[str, str]] = {}
        for lang in languages:
            path = deployment_po_path(folder, lang)
            if path.is_file():
                with path.open("rb") as fh:
                    found[lang] = usable_translations(read_po(fh, locale=lang))
        return cls(source, found, show_source)


def read_catalog(locales_dir: Path, lang: str) -> Catalog:
    path = po_path(locales_dir, lang)
    try:
        with path.open("rb") as fh:
            return read_po(fh, locale=lang)
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: no catalogue for language {lang!r}") from exc


def review_state(catalog: Catalog) -> str:
    """"done" when the header says a native speaker reviewed the catalogue; else "draft"
    (a catalogue that says nothing is treated as a draft)."""
    found = REVIEW_LINE.search(catalog.header_comment or "")
    return "done" if found and found.group(1).lower() == "done" else "draft"


def compile_catalog(catalog: Catalog) -> Translations:
    """Compile a catalogue to gettext's binary form in memory; fuzzy entries are left out."""
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf)


def mark_rtl(text: str) -> str:
    """Start every line with RLM, so a line opening with a digit or a Latin word stays RTL."""
    return "\n".join(RLM + line if line else line for line in text.split("\n"))


def isolate_ltr(text: str) -> str:
    """Wrap a left-to-right run (a phone number, a link) so RTL text does not reorder it."""
    return f"{LRI}{text}{PDI}"


@dataclass(frozen=True)
class Translator:
    """Everything language-specific the engine needs: gettext and Babel formatting."""

    lang: str
    translations: Translations
    own: Mapping[str, str] = _field(default_factory=dict)  # the deployment's catalogue
    content_source: str = SOURCE_LANGUAGE  # the language the deployment's facts are written in
    show_source: bool = False

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    @property
    def rtl(self) -> bool:
        return self.lang in RTL_LANGUAGES

    def gettext(self, msgid: str) -> str:
        return self.own.get(msgid) or self.translations.gettext(msgid)

    def content(self, text: str) -> str:
        """A deployment's fact (a service, a rumour, a contact's name) in this language.

        Only the deployment's own catalogue translates it. When it has no translation, the
        source text is shown with a note that it is not yet translated, if the deployment
        allows it; start-up refuses a deployment that neither translates nor allows it."""
        if self.lang == self.content_source or not text:
            return text
        found = self.own.get(text)
        if found:
            return found
        if self.show_source:
            return f"{text} {self.gettext(UNTRANSLATED_NOTE)}"
        return text

    def __call__(self, msgid: str, **values: object) -> str:
        text = self.gettext(msgid)
        return text.format(**values) if values else text

    def ltr(self, text: str) -> str:
        """Isolate a left-to-right run when the message is right-to-left."""
        return isolate_ltr(text) if self.rtl else text

    def datetime(self, when_utc: datetime, timezone: str, fmt: str = "full") -> str:
        local = when_utc.astimezone(ZoneInfo(timezone))
        return format_datetime(local, format=fmt, tzinfo=ZoneInfo(timezone), locale=self.locale)

    def date(self, when_utc: datetime, timezone: str = "UTC", fmt: str = "medium") -> str:
        return format_date(when_utc.astimezone(ZoneInfo(timezone)), format=fmt, locale=self.locale)

    def when(self, when_utc: datetime, timezone: str) -> str:
        """A date and time as people read them: "Tuesday, 1 December 2026, 14:30 (…time)"."""
        tz = ZoneInfo(timezone)
        local = when_utc.astimezone(tz)
        zone_name = get_timezone_name(local, width="long", locale=self.locale)
        pattern = str(self.locale.datetime_formats["long"])  # "{1}, {0}", "{1} في {0}" ...
        joined = pattern.replace("{1}", format_date(local, "full", locale=self.locale)).replace(
            "{0}", format_time(local, "short", locale=self.locale))
        return f"{joined} ({zone_name})"

    def _duration(self, count: int, unit: str) -> str:
        """"14 days", "14 jours", "14 дней": Babel knows each language's plural forms."""
        for length in ("long", "short"):  # CLDR lacks the long form for some languages
            text = format_unit(count, f"duration-{unit}", length=length, locale=self.locale)
            if "duration" not in text:
                return text
        return format_decimal(count, locale=self.locale)

    def minutes(self, count: int) -> str:
        return self._duration(count, "minute")

    def days(self, count: int) -> str:
        return self._duration(count, "day")

    def language_in_own_words(self, code: str) -> str:
        """Another language's name in this person's language ("pachto", "пушту")."""
        try:
            return Locale.parse(code).get_display_name(self.locale) or code
        except (ValueError, UnknownLocaleError):
            return code

    def months(self, count: int) -> str:
        return self._duration(count, "month")

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)


def language_name(lang: str) -> str:
    """A language named in itself ("Français", "العربية"), as people look for it."""
    name = Locale.parse(lang).display_name or lang
    return name[:1].upper() + name[1:]


class Catalogs:
    """The compiled catalogues of the enabled languages."""

    def __init__(self, catalogs: dict[str, Catalog],
                 deployment: DeploymentTexts | None = None) -> None:
        self._catalogs = catalogs
        self.deployment = deployment or DeploymentTexts(SOURCE_LANGUAGE, {})
        own = self.deployment.by_language
        self._translators = {
            lang: Translator(lang, compile_catalog(cat), own.get(lang, {}),
                             self.deployment.source, self.deployment.show_source)
            for lang, cat in catalogs.items()
        }

    @classmethod
    def load(cls, locales_dir: Path, languages: Iterable[str],
             deployment: DeploymentTexts | None = None) -> Catalogs:
        return cls({lang: read_catalog(locales_dir, lang) for lang in languages}, deployment)

    @property
    def languages(self) -> Sequence[str]:
        return tuple(self._catalogs)

    def translator(self, lang: str) -> Translator:
        return self._translators[lang]

    def translation_of(self, lang: str, msgid: str) -> str | None:
        """The usable translation of msgid, or None when it is missing or fuzzy."""
        if lang == SOURCE_LANGUAGE:
            return msgid
        own = self.deployment.by_language.get(lang, {}).get(msgid)
        if own:
            return own
        message = self._catalogs[lang].get(msgid)
        if message is None or not message.string or message.fuzzy:
            return None
        return message.string if isinstance(message.string, str) else None

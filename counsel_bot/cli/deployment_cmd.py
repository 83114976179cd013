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

from counsel_bot import yaml_text
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


# -- deployment init ------------------------------------------------------------------------

class InitRefused(Exception):
    """The folder or the arguments cannot make a deployment; the message says why."""


DEPLOYMENT_YAML = """\
# The deployment of your organisation, made by `counsel-bot deployment init`.
#
# Every value marked {fill} must be replaced with your verified value: `counsel-bot config
# check` refuses this file, and the bot does not start, while one is left. Never invent a
# fact; a returnee acts on what is written here.
#
# The texts a returnee reads (the organisation's name here; the country's name, office,
# contacts, services, rumours and partners in countries/) are written in {source_name}
# ({source}) and translated in locales/<language>/LC_MESSAGES/deployment.po.
# After changing a text, run:  counsel-bot deployment catalogues {folder_hint}
# then fill in the new msgstr lines of each catalogue (docs/deployment.md, step by step).

# A real deployment, not the shipped sample.
sample: false

# The organisation's name, as returnees read it (in {source_name}; it is translated).
organisation: "{fill} the organisation's name"

# The languages a returnee can choose, as codes. The bot's own texts exist in: {supported}.
languages: [{languages}]
{unsupported}
# The language offered first when the returnee's Telegram language is not enabled.
default_language: {default}

# The language the texts of this folder are written in.
source_language: {source}

# refuse: the bot does not start while a text lacks a translation in an enabled language.
# show_source: it starts, and shows such a text as written followed by a note, in the
# returnee's language, that it is not yet translated. Never silent either way.
missing_translations: refuse

# The country returnees of this deployment go back to, by default (a file in countries/).
default_country: {country}
countries_dir: countries

# Your own copies of the shipped flows, if any (see dialogs/README.txt): a flow file there
# replaces the shipped flow of the same name. Without it, the shipped flows are used.
dialogs_dir: dialogs

# Closed cases are made anonymous after this many months.
retention_months: 12
# A returnee's /delete is carried out after this many days at the latest.
erasure_days: 30
# true: a danger to life alerts the case worker even without the returnee's consent to alerts.
vital_interest_alerts: true
# No messages between these hours, local time of the returnee (alerts about danger ignore it).
quiet_hours: {{start: 21, end: 8}}
checkins:
  days: [3, 7, 14, 30]   # days after arrival on which a check-in is sent
  monthly: true          # then once a month until the case closes
  hour: 10               # local time
# Minutes a case worker has to acknowledge an alert before the backup is alerted.
alert_deadlines_minutes:
  urgent: 15
  high: 240
"""

COUNTRY_YAML = """\
# {name} ({country}): the office, emergency contacts, services, rumours and partners that
# returnees read. Written in {source_name} ({source}); translated in locales/.
# Replace every {fill} with a verified value: `counsel-bot config check` refuses this file
# while one is left. Add as many services, rumours and partners as you have, each with
# every key; remove the examples you do not need. Write phone numbers in quotes.
code: {country}
# The country's name, as returnees read it (from the Unicode CLDR; correct it if needed).
name: "{name}"
# Time zones offered when a case worker opens a case (from the tz database).
timezones: [{zones}]

# Where returnees can go or call during opening hours.
office:
  name: "{fill} the office's name"
  address: "{fill} street, town"
  phone: "{fill} the office's phone number, with the country code"
  hours: "{fill} the opening days and hours"

# Numbers to call in an emergency, shown whenever someone may be in danger. Verify each.
emergency_contacts:
  - name: "{fill} who answers (for example: the police)"
    phone: "{fill} the number"

# What the programme offers. Each: what it is, what it gives, what it does not cover
# (limits) and who can have it (conditions). Honest limits prevent false hopes.
services:
  - name: "{fill} the service's name"
    description: "{fill} what the service gives"
    limits: "{fill} what it does not cover"
    conditions: "{fill} who can have it"

# What people say, and what is true.
rumours:
  - rumour: "{fill} what people say"
    fact: "{fill} what is true"

# Services a case may be referred to at closure, each offered on its own and only shared
# with the returnee's yes. code: small letters, digits, - or _, once in this file.
referral_partners: []
#  - code: {lower}-health
#    name: "the partner's name"
#    description: "what the partner offers"
"""

DIALOGS_README = """\
Your own flows (optional).

The shipped flows are used unless a file here has the same `flow:` name: then this file
replaces the shipped one. To change a check-in question, copy the shipped checkin.yaml
(counsel-bot deployment copy-flow . checkin) and edit its texts. `counsel-bot config
check` validates it like the shipped flows. New or changed texts are English source texts
and need a translation in locales/<language>/LC_MESSAGES/deployment.po for every enabled
language except English: run `counsel-bot deployment catalogues .` after editing.
"""


def _zones(country: str) -> list[str]:
    from babel.core import get_global

    return list(get_global("territory_zones").get(country, [])) or ["UTC"]


def _name(code: str, lang: str) -> str:
    """A language's name in another language: _name("fr", "en") is French."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(code).get_language_name(lang) or code)
    except (ValueError, UnknownLocaleError):
        return code


def init_deployment(folder: Path, country: str, languages: list[str]) -> list[str]:
    """Scaffold a deployment in `folder`; returns notes for the person at the terminal."""
    from babel import Locale, UnknownLocaleError

    from counsel_bot.config.schema import FILL_IN
    from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES

    if not country.isalpha() or len(country) != 2 or not country.isupper():
        raise InitRefused(f"--country {country}: two capital letters, the ISO 3166 code "
                          "(for example SN)")
    if not languages:
        raise InitRefused("--languages: at least one language code, for example fr,en")
    if folder.exists() and any(folder.iterdir()):
        raise InitRefused(f"{folder} is not empty; give a new or empty folder")
    source = languages[0]
    enabled = [lang for lang in languages if lang in SUPPORTED_LANGUAGES]
    missing = [lang for lang in languages if lang not in SUPPORTED_LANGUAGES]
    if not enabled:
        raise InitRefused(f"none of {', '.join(languages)} has the bot's own texts; they "
                          f"exist in: {', '.join(SUPPORTED_LANGUAGES)}")
    notes = []
    unsupported = ""
    if missing:
        unsupported = (f"# Not enabled: {', '.join(missing)}. The bot's own texts (menus, "
                       "consent, check-ins) are not\n# translated into "
                       f"{'it' if len(missing) == 1 else 'them'} yet; add "
                       f"{'it' if len(missing) == 1 else 'them'} here once the project has.\n")
        notes.append(f"not enabled: {', '.join(missing)} (the bot's own texts are not "
                     f"translated into {'it' if len(missing) == 1 else 'them'} yet)")
    try:
        country_name = Locale.parse(source).territories.get(country)
    except (ValueError, UnknownLocaleError):
        country_name = None
    fill = f"{FILL_IN}:"
    values = {"fill": fill, "source": source, "source_name": _name(source, "en"),
              "country": country, "languages": ", ".join(enabled), "default": enabled[0],
              "supported": ", ".join(SUPPORTED_LANGUAGES), "unsupported": unsupported,
              "folder_hint": str(folder), "lower": country.lower(),
              "name": country_name or f"{fill} the country's name",
              "zones": ", ".join(_zones(country))}
    (folder / "countries").mkdir(parents=True, exist_ok=True)
    (folder / "dialogs").mkdir(exist_ok=True)
    (folder / "deployment.yaml").write_text(DEPLOYMENT_YAML.format(**values), encoding="utf-8")
    (folder / "countries" / f"{country}.yaml").write_text(COUNTRY_YAML.format(**values),
                                                         encoding="utf-8")
    (folder / "dialogs" / "README.txt").write_text(DIALOGS_README, encoding="utf-8")
    update_catalogues(folder, enabled)
    notes.append(f"written: {folder}/deployment.yaml, countries/{country}.yaml, babel.cfg, "
                 f"locales/ ({', '.join(enabled)}), dialogs/")
    notes.append(f"next: replace every {FILL_IN} (counsel-bot config check --config "
                 f"{folder}/deployment.yaml lists them), then translate (docs/deployment.md)")
    return notes


def enabled_languages(folder: Path) -> list[str]:
    """The languages deployment.yaml enables (read loosely: it may still hold FILL IN)."""
    import yaml

    from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES

    path = folder / "deployment.yaml"
    try:
        data = yaml_text.load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InitRefused(f"{path}: cannot be read ({exc})") from None
    languages = data.get("languages") if isinstance(data, dict) else None
    if languages is None:
        return list(SUPPORTED_LANGUAGES)
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise InitRefused(f"{path}: languages is not a list of codes")
    return languages


def copy_flow(folder: Path, flow: str) -> Path:
    """Copy a shipped flow file into the deployment's dialogs folder, to change it there."""
    from counsel_bot.config.resources import packaged_dialogs
    from counsel_bot.engine.dialogs import content_files

    for path in content_files(packaged_dialogs()):
        if path.stem == flow:
            target = folder / "dialogs" / path.name
            if target.exists():
                raise InitRefused(f"{target} exists already")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
            return target
    names = ", ".join(p.stem for p in content_files(packaged_dialogs()))
    raise InitRefused(f"no shipped flow file {flow!r}; there are: {names}")

"""`counsel-bot config check`: what start-up checks, reported at once, without starting.

It loads the content exactly as `run` and `demo` do (`bootstrap.load_context`), so any check
added to start-up (the deployment's own translations, for instance) is reported here too.
"""

from __future__ import annotations

from typing import TextIO

from counsel_bot.bootstrap import load_context
from counsel_bot.config.deployment import ConfigError, read_config
from counsel_bot.config.settings import Settings
from counsel_bot.config.translations import untranslated
from counsel_bot.engine.dialogs import DialogError
from counsel_bot.i18n.catalogs import CatalogError

SAMPLE_NOTE = ("this is a SAMPLE deployment: its services, offices and emergency numbers are "
               "invented; replace them with your country office's verified data before any "
               "real use")


def summary(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''} in the configuration"


def run_check(settings: Settings, out: TextIO) -> int:
    """Print every problem and return 1, or print that all is well and return 0."""
    try:
        context = load_context(settings, screening=False)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        print(summary(len(exc.problems)), file=out)
        return 1
    except (DialogError, CatalogError) as exc:
        print(exc, file=out)
        print(summary(1), file=out)
        return 1
    deployment = context.deployment
    print(f"configuration: OK ({settings.config_path}; countries: "
          f"{', '.join(sorted(deployment.countries))}; languages: "
          f"{', '.join(deployment.languages)})", file=out)
    if deployment.sample:
        print(f"note: {SAMPLE_NOTE}", file=out)
    if deployment.show_untranslated:  # allowed, so not a problem; still never silent
        shown = untranslated(read_config(settings.config_path), context.catalogs.deployment)
        for problem in shown:
            print(f"note: {problem} (shown as written, with a note)", file=out)
        if shown:
            print(f"note: {len(shown)} text(s) not yet translated are shown as written "
                  "(missing_translations: show_source)", file=out)
    return 0

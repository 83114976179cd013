"""The `counsel-bot` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.config import Settings
from bot.i18n import SUPPORTED_LANGUAGES

log = logging.getLogger("counsel_bot")


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_app
    from bot.channels.console import ConsoleDoor

    app = build_app(settings)
    try:
        door = ConsoleDoor(app.conversations, sys.stdout)
        prompt = "> " if sys.stdin.isatty() else ""
        door.run(sys.stdin, language=args.lang, prompt=prompt)
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
    return 0


def _i18n_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.i18n_check import check_all

    problems = check_all(settings)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} translation problem(s)")
        return 1
    print("translations: complete")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counsel-bot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="chat with the bot in this terminal")
    demo.add_argument("--lang", choices=SUPPORTED_LANGUAGES, help="start in this language")
    demo.set_defaults(run=_demo)

    i18n = commands.add_parser("i18n-check", help="fail on missing, fuzzy or mismatched "
                               "translations, or a stale messages.pot")
    i18n.set_defaults(run=_i18n_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    try:
        return int(args.run(args, settings))
    except Exception as exc:  # a clear message for the person at the terminal, details in logs
        from bot.deployment import ConfigError
        from bot.engine.dialogs import DialogError
        from bot.i18n import CatalogError
        from bot.store.errors import StoreError

        if isinstance(exc, ConfigError | DialogError | CatalogError | StoreError):
            print(f"counsel-bot: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

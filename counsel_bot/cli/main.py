"""The `counsel-bot` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from counsel_bot.config.settings import Settings
from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES

log = logging.getLogger("counsel_bot")


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.bootstrap import build_app
    from counsel_bot.console import ConsoleDoor

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
    from counsel_bot.cli.i18n_check import check_all, enabled_languages, unreviewed

    problems = check_all(settings)
    for problem in problems:
        print(problem)
    drafts = unreviewed(settings.locales_dir, enabled_languages(settings))
    if drafts:  # a warning, not a failure: the deployment decides, knowing it
        print("unreviewed: the deployment enables " + ", ".join(drafts) + ", whose "
              "catalogues are drafts written by the project; a native speaker must review "
              "each before the language is enabled (docs/translations.md)")
    if problems:
        print(f"{len(problems)} translation problem(s)")
        return 1
    print("translations: complete")
    return 0


def _config_check(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace
    from pathlib import Path

    from counsel_bot.cli.config_check import run_check

    if args.config:
        settings = replace(settings, config_path=Path(args.config))
    return run_check(settings, sys.stdout)


def _deployment(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.cli.deployment_cmd import (
        InitRefused,
        copy_flow,
        enabled_languages,
        init_deployment,
        update_catalogues,
    )

    folder = Path(args.dir)
    try:
        if args.what == "init":
            languages = [x.strip() for x in args.languages.split(",") if x.strip()]
            for note in init_deployment(folder, args.country, languages):
                print(note)
        elif args.what == "catalogues":
            for path in update_catalogues(folder, enabled_languages(folder)):
                print(f"updated: {path}")
        else:
            print(f"copied: {copy_flow(folder, args.flow)}")
    except InitRefused as exc:
        print(f"counsel-bot deployment {args.what}: {exc}", file=sys.stderr)
        return 2
    return 0


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 0.0.0.0:8443")
    return host, int(port)


def default_step_processes() -> int:
    """Two worker processes where there is a second core, none on a single core.

    Two, not one, on two cores: a worker waits for the disk (fsync) on every commit, and a
    second one steps another chat meanwhile (benchmarks/README.md has the figures).
    """

    return 2 if (os.cpu_count() or 1) >= 2 else 0


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


STOP_DEADLINE = 9.0  # seconds from SIGTERM to exit, whatever is still in flight


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import signal

    from counsel_bot.bootstrap import build_app, build_telegram
    from counsel_bot.logging_setup import register_secret
    from counsel_bot.runtime.ratelimit import Limits
    from counsel_bot.telegram.door import TokenRefused
    from counsel_bot.telegram.runner import OFFICIAL_API, RunOptions

    token = os.environ.get("COUNSEL_BOT_TOKEN", "").strip()
    if not token:
        print("counsel-bot: set COUNSEL_BOT_TOKEN to the bot's token (from @BotFather)",
              file=sys.stderr)
        return 2
    register_secret(token)
    options = RunOptions(
        framework=args.framework, token=token,
        api_url=os.environ.get("COUNSEL_BOT_API_URL", OFFICIAL_API),
        webhook_url=args.webhook_url, listen=args.listen,
        limits=Limits(per_second=args.rate_limit),
        step_processes=args.step_processes,
    )
    app = build_app(settings)

    def give_up() -> None:
        log.error("stopping took longer than %.0f s; exiting now (queued messages and "
                  "updates stay on disk for the next start)", STOP_DEADLINE)
        os._exit(1)

    async def main_loop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if not stop.is_set():
                log.info("stopping: finishing what is in flight")
                loop.call_later(STOP_DEADLINE, give_up)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await build_telegram(app, options).run_until(stop)

    try:
        asyncio.run(main_loop())
    except TokenRefused:
        print("counsel-bot: Telegram refused the bot token; check COUNSEL_BOT_TOKEN "
              "(from @BotFather)", file=sys.stderr)
        return 2
    finally:
        app.close()
    return 0


def _web(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.bootstrap import build_app
    from counsel_bot.cases.signin import WEB_URL_ENV, SignInLinks
    from counsel_bot.runtime.inbox import open_inbox
    from counsel_bot.store.crypto import ShardCipher
    from counsel_bot.web.app import WebDesk
    from counsel_bot.web.server import (
        DeskOptions,
        ListenRefused,
        bound_socket,
        check_options,
        uvicorn_server,
    )

    host, port = args.listen
    options = DeskOptions(host, port, args.behind_tls_proxy,
                          args.base_url or os.environ.get(WEB_URL_ENV) or None)
    try:
        base = check_options(options)
    except ListenRefused as exc:
        print(f"counsel-bot: {exc}", file=sys.stderr)
        return 2
    app = build_app(settings, screening=False)
    try:
        desk = WebDesk(app.conversations, app.audit,
                       open_inbox(app.store, settings.data_dir, ShardCipher(app.key)),
                       locales_dir=settings.locales_dir)
        sock = bound_socket(host, port)
        if port == 0 and not args.base_url:
            base = f"http://{host}:{sock.getsockname()[1]}"
        SignInLinks(app.store).record_web_url(base)
        log.info("web desk on %s (sign-in links point there)", base)
        print(f"counsel-bot web desk: {base}", flush=True)
        server = uvicorn_server(desk.app(), options)
        server.run(sockets=[sock])  # type: ignore[attr-defined]
    finally:
        app.close()
    return 0



def _screener(settings: Settings):  # type: ignore[no-untyped-def]
    from counsel_bot.bootstrap import semantic_layer
    from counsel_bot.screening.screener import SUPPORTED_LANGUAGES as LEXICONS
    from counsel_bot.screening.screener import Screener

    return Screener.from_locales(settings.locales_dir, LEXICONS,
                                 semantic=semantic_layer(settings))


def _screen(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.screening.cli import run_screen

    return run_screen(sys.stdin, sys.stdout, _screener(settings))


def _screen_eval(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.screening.evaluate import EvalFileError, evaluate, read_cases, report

    try:
        cases = read_cases(args.file)
    except (OSError, EvalFileError) as exc:
        print(f"counsel-bot screen eval: {exc}", file=sys.stderr)
        return 2
    screener = _screener(settings)
    print(f"{args.file}: {len(cases)} labelled messages; semantic layer: "
          f"{'on' if screener.semantic else 'off (lexicons only)'}")
    report(evaluate(cases, lambda text, lang: screener.screen(text, lang).severity), sys.stdout)
    return 0


def _screen_train(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.screening.evaluate import evaluate, read_cases, summary_line
    from counsel_bot.screening.examples import LabelledExamples
    from counsel_bot.screening.semantic import SemanticLayer, save_classifier
    from counsel_bot.screening.training import (
        HELDOUT_FILE,
        project_examples,
        taught_examples,
        train,
    )
    from counsel_bot.screening.vector_cache import RememberingEmbedder, VectorCache
    before = _screener(settings)
    if before.semantic is None:
        print("counsel-bot screen train: no semantic layer can run here (see the log); "
              "set COUNSEL_BOT_EMBEDDINGS", file=sys.stderr)
        return 2
    from counsel_bot.bootstrap import open_store_and_audit

    store, _, key = open_store_and_audit(settings)  # the folder's, or the database's
    try:
        taught = taught_examples(LabelledExamples(store).all())
    finally:
        store.close()
    examples = project_examples() + taught
    print(f"training on {len(examples)} examples ({len(taught)} taught by case workers)")
    embedder = RememberingEmbedder(before.semantic.embedder, VectorCache.load())
    before = before.with_semantic(SemanticLayer(embedder, before.semantic.classifier))
    classifier = train(embedder, examples, thresholds=before.semantic.thresholds)
    after = before.with_semantic(SemanticLayer(embedder, classifier))
    cases = read_cases(args.eval or HELDOUT_FILE)
    print(f"evaluation split: {args.eval or HELDOUT_FILE} ({len(cases)} messages)")
    for name, screener in (("before", before), ("after", after)):
        tallies = evaluate(cases, lambda text, lang, s=screener: s.screen(text, lang).severity)
        print(summary_line(name, tallies["all"]))
    path = save_classifier(classifier, settings.data_dir, key)
    print(f"saved (encrypted): {path}")
    return 0


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.audit import AuditLog, run_verify
    from counsel_bot.store import TinyDBStore, load_or_create_key
    from counsel_bot.store.crypto import ShardCipher

    if settings.database_url:  # the chain is in the database, next to the store
        from counsel_bot.bootstrap import open_store_and_audit

        store, audit, _ = open_store_and_audit(settings)  # proves the key first
        try:
            return run_verify(audit, sys.stdout, anchor=args.anchor)
        finally:
            store.close()
    key = load_or_create_key(settings.data_dir)
    TinyDBStore(settings.data_dir, key).close()  # proves the key before reading anything
    return run_verify(AuditLog(settings.data_dir, ShardCipher(key)), sys.stdout,
                      anchor=args.anchor)


def _store_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.cli.store_migrate import MigrateError, from_database, to_database
    from counsel_bot.store import is_database_url

    url = args.to or args.from_
    if not is_database_url(url):
        print("counsel-bot store migrate: --to/--from take a postgresql:// URL", file=sys.stderr)
        return 2
    try:
        if args.to:
            to_database(settings.data_dir, url, sys.stdout)
        else:
            from_database(url, settings.data_dir, sys.stdout)
    except MigrateError as exc:
        print(f"counsel-bot store migrate: {exc}", file=sys.stderr)
        return 1
    return 0


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from counsel_bot.cli.doctor import run_doctor

    return run_doctor(args, settings, sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counsel-bot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="chat with the bot in this terminal")
    demo.add_argument("--lang", choices=SUPPORTED_LANGUAGES, help="start in this language")
    demo.set_defaults(run=_demo)

    run = commands.add_parser("run", help="run the bot on Telegram (long polling or webhook)")
    run.add_argument("--framework", choices=("ptb", "aiogram"), required=True,
                     help="python-telegram-bot or aiogram: the same bot on either")
    run.add_argument("--webhook-url", help="public https URL for Telegram's webhook; "
                     "without it the bot uses long polling")
    run.add_argument("--listen", type=_listen, default=("127.0.0.1", 8080),
                     help="HOST:PORT the webhook server listens on (default 127.0.0.1:8080)")
    run.add_argument("--rate-limit", type=float, default=30.0,
                     help="messages a second across all chats (Telegram allows about 30)")
    run.add_argument("--step-processes", type=_count, default=default_step_processes(),
                     help="worker processes that step returnees' conversations, beside the "
                     "one talking to Telegram; 0 steps them in threads of that one (default: "
                     "%(default)s on this machine, from its CPU count)")
    run.set_defaults(run=_run)

    web = commands.add_parser("web", help="the case workers' web desk (a separate process "
                              "beside the bot, on the same data)")
    web.add_argument("--listen", type=_listen, default=("127.0.0.1", 8080),
                     help="HOST:PORT (default 127.0.0.1:8080); beyond loopback only with "
                     "--behind-tls-proxy")
    web.add_argument("--behind-tls-proxy", action="store_true",
                     help="a TLS proxy in front ends https and passes requests on (from "
                     "127.0.0.1); then --base-url is its public https:// address")
    web.add_argument("--base-url", help="the desk's address in sign-in links (default: "
                     "COUNSEL_BOT_WEB_URL, else http://HOST:PORT)")
    web.set_defaults(run=_web)

    from counsel_bot.cli.casework import add_commands

    add_commands(commands)

    screen = commands.add_parser(
        "screen", help='screen JSON lines {"lang": ..., "text": ...} from standard input')
    screen.set_defaults(run=_screen)
    screen_commands = screen.add_subparsers(dest="screen_command")
    screen_eval = screen_commands.add_parser(
        "eval", help="urgent recall, signal recall, false alarms and the confusion table of "
        'a labelled JSON-lines file {"lang", "text", "expected"}, per language and overall')
    screen_eval.add_argument("file", type=Path)
    screen_eval.set_defaults(run=_screen_eval)
    screen_train = screen_commands.add_parser(
        "train", help="retrain the deployment's classifier from the project's examples and "
        "those case workers taught; prints before/after on the evaluation split")
    screen_train.add_argument("--eval", type=Path, help="another evaluation file")
    screen_train.set_defaults(run=_screen_train)

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="what", required=True)
    verify = audit.add_parser("verify", help="report the first altered or removed entry")
    verify.add_argument("--anchor", help='a "seq:hash" printed by an earlier verify')
    verify.set_defaults(run=_audit_verify)

    store = commands.add_parser("store", help="the data store").add_subparsers(
        dest="what", required=True)
    migrate = store.add_parser(
        "migrate", help="copy the store and the audit chain between the data folder "
        "(COUNSEL_BOT_DATA_DIR) and an empty PostgreSQL database, or back; verified")
    direction = migrate.add_mutually_exclusive_group(required=True)
    direction.add_argument("--to", metavar="URL", help="copy the data folder into this "
                           "(empty) postgresql:// database")
    direction.add_argument("--from", dest="from_", metavar="URL", help="copy this "
                           "postgresql:// database into the (empty) data folder")
    migrate.set_defaults(run=_store_migrate)

    from counsel_bot.cli import doctor as doctor_help

    doctor = commands.add_parser("doctor", help=doctor_help.HELP,
                                 description=doctor_help.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    doctor.add_argument("--repair", action="store_true", help=doctor_help.REPAIR_HELP)
    doctor.set_defaults(run=_doctor)

    config = commands.add_parser("config", help="the deployment configuration").add_subparsers(
        dest="what", required=True)
    check = config.add_parser("check", help="report every problem in the deployment file, its "
                              "country files and the content they use, as start-up would")
    check.add_argument("--config", metavar="FILE", help="the deployment file to check "
                       "(default: COUNSEL_BOT_CONFIG, else the shipped sample)")
    check.set_defaults(run=_config_check)

    deployment = commands.add_parser(
        "deployment", help="a deployment's own folder: its files, catalogues and flows"
    ).add_subparsers(dest="what", required=True)
    init = deployment.add_parser(
        "init", help="scaffold DIR/deployment.yaml, DIR/countries/XX.yaml and the catalogues, "
        "every field explained and every fact to fill in marked FILL IN")
    init.add_argument("dir", help="a new or empty folder")
    init.add_argument("--country", required=True, help="the ISO 3166 code, e.g. SN")
    init.add_argument("--languages", required=True,
                      help="comma-separated codes, the first the one the texts are written "
                      "in, e.g. fr,wo,en")
    init.set_defaults(run=_deployment)
    catalogues = deployment.add_parser(
        "catalogues", help="extract DIR's texts into DIR/locales/deployment.pot and update "
        "each enabled language's deployment.po, keeping translations made")
    catalogues.add_argument("dir")
    catalogues.set_defaults(run=_deployment)
    copy = deployment.add_parser("copy-flow", help="copy a shipped flow file (e.g. checkin) "
                                 "into DIR/dialogs/, where it replaces the shipped one")
    copy.add_argument("dir")
    copy.add_argument("flow")
    copy.set_defaults(run=_deployment)

    i18n = commands.add_parser("i18n-check", help="fail on missing, fuzzy or mismatched "
                               "translations, or a stale messages.pot")
    i18n.set_defaults(run=_i18n_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from counsel_bot.logging_setup import configure_logging

    configure_logging(verbose=args.verbose)
    os.umask(0o077)  # whatever the bot or a command creates is for its own user only
    settings = Settings.from_env()
    try:
        return int(args.run(args, settings))
    except Exception as exc:  # a clear message for the person at the terminal, details in logs
        from counsel_bot.config.deployment import ConfigError
        from counsel_bot.engine.dialogs import DialogError
        from counsel_bot.i18n.catalogs import CatalogError
        from counsel_bot.runtime.journal import JournalError
        from counsel_bot.store.errors import StoreError

        if isinstance(exc, ConfigError):  # the same lines as `config check`, then what to do
            from counsel_bot.cli.config_check import summary

            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print(f"counsel-bot: {summary(len(exc.problems))}; nothing was started. "
                  "Check again with: counsel-bot config check", file=sys.stderr)
            return 2
        if isinstance(exc, DialogError | CatalogError | StoreError
                      | JournalError):
            print(f"counsel-bot: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

"""The `helpdesk` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.errors import what_to_fix
from bot.logs import configure_logging
from core.api.tokens import SCOPES

if TYPE_CHECKING:
    from storage import SqlStore

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.toml")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "action"):
        parser.print_help()
        return 2
    try:
        settings = args.load(args)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    # The demo's transcript is the point: its log goes to a file, not between the lines.
    configure_logging(
        args.log_level or settings.bot.log_level,
        getattr(args, "log_file", None),
        settings.bot.log_format,
    )
    try:
        return asyncio.run(args.action(settings, args)) or 0
    except ConfigError as error:  # a setting that only the built parts can check
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except _UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        problem = what_to_fix(error, settings.database.url_for_logs)
        if problem is None:
            raise
        log.debug("the error in full", exc_info=error)
        print(f"error: {problem}", file=sys.stderr)
        return 1


class _UserError(Exception):
    """A problem the person at the terminal can fix; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    # --config and --log-level are read before or after the command: `helpdesk run --config F`
    # and `helpdesk --config F run` alike (a command's own copy only counts when given).
    parser = argparse.ArgumentParser(prog="helpdesk", description="Helpdesk bot for messengers")
    _add_common_options(parser, default=None)
    options = argparse.ArgumentParser(add_help=False)
    _add_common_options(options, default=argparse.SUPPRESS)
    commands = _Commands(parser.add_subparsers(metavar="COMMAND"), options)

    demo = commands.add_parser("demo", help="talk to the bot in this terminal (temporary database)")
    demo.add_argument("--script", type=Path, help="read the conversation from a file ('-' = stdin)")
    demo.add_argument("--lang", choices=("en", "ru"), default="en", help="the users' language")
    demo.add_argument(
        "--database", help="database URL to keep the demo's data (default: temporary)"
    )
    demo.set_defaults(action=_demo, load=_demo_settings)

    run = commands.add_parser("run", help="run the bot with the configured channels")
    run.set_defaults(action=_run, load=_settings)

    db = _Commands(
        commands.add_parser("db", help="database maintenance").add_subparsers(metavar="ACTION"),
        options,
    )
    upgrade = db.add_parser("upgrade", help="apply schema migrations")
    upgrade.set_defaults(action=_db_upgrade, load=_settings)

    backup = commands.add_parser(
        "backup", help="copy the SQLite database to FILE while the bot runs (PostgreSQL: pg_dump)"
    )
    backup.add_argument("file", type=Path)
    backup.set_defaults(action=_backup, load=_settings)

    user = _Commands(
        commands.add_parser("user", help="one person's data").add_subparsers(metavar="ACTION"),
        options,
    )
    export = user.add_parser("export", help="everything kept of CHANNEL:ID, as JSON")
    export.add_argument("identity", metavar="CHANNEL:ID")
    export.add_argument("--file", type=Path, help="write it there (default: standard output)")
    export.set_defaults(action=_user_export, load=_settings)
    erase = user.add_parser("erase", help="erase what CHANNEL:ID wrote and who they are")
    erase.add_argument("identity", metavar="CHANNEL:ID")
    erase.add_argument("--yes", action="store_true", help="confirm: it cannot be undone")
    erase.set_defaults(action=_user_erase, load=_settings)

    token = _Commands(
        commands.add_parser("api-token", help="tokens of the HTTP API").add_subparsers(
            metavar="ACTION"
        ),
        options,
    )
    create = token.add_parser("create", help="a new token NAME; its secret is shown once")
    create.add_argument("name")
    create.add_argument(
        "--scope", action="append", default=[], metavar="SCOPE",
        help="what it may do, once per scope: " + ", ".join(SCOPES),
    )  # fmt: skip
    create.set_defaults(action=_token_create, load=_settings)
    revoke = token.add_parser("revoke", help="delete token NAME: its requests are refused")
    revoke.add_argument("name")
    revoke.set_defaults(action=_token_revoke, load=_settings)
    listing = token.add_parser("list", help="the tokens and their scopes")
    listing.set_defaults(action=_token_list, load=_settings)

    report = commands.add_parser("report", help="the helpdesk's figures for a period (/stats)")
    report.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
    report.add_argument("--line", help="one support line only (default: all)")
    report.add_argument("--csv", type=Path, help="write the figures as metric,value rows")
    report.add_argument("--png", type=Path, help="write the chart")
    report.add_argument("--lang", choices=("en", "ru"), help="default: [bot] default_language")
    report.set_defaults(action=_report, load=_settings)

    kb = _Commands(
        commands.add_parser("kb", help="knowledge base").add_subparsers(metavar="ACTION"), options
    )
    kb_import = kb.add_parser("import", help="add/replace entries from a YAML or CSV file")
    kb_import.add_argument("file", type=Path)
    kb_import.set_defaults(action=_kb_import, load=_settings)
    kb_export = kb.add_parser("export", help="write the whole knowledge base to YAML or CSV")
    kb_export.add_argument("file", type=Path)
    kb_export.set_defaults(action=_kb_export, load=_settings)
    kb_ask = kb.add_parser("ask", help="show the ranked matches and scores for a question")
    kb_ask.add_argument("question")
    kb_ask.add_argument("--lang", choices=("en", "ru"))
    kb_ask.add_argument("--limit", type=_positive, default=5, help="matches to show (default 5)")
    kb_ask.set_defaults(action=_kb_ask, load=_settings)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        help="TOML settings file (default: $HELPDESK_CONFIG, else ./config.toml if present)",
    )
    parser.add_argument("--log-level", default=default, help="override [bot] log_level")


class _Commands:
    """Subcommands that all take the common options too."""

    def __init__(self, subparsers, options: argparse.ArgumentParser) -> None:
        self.subparsers = subparsers
        self.options = options

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self.subparsers.add_parser(name, parents=[self.options], **kwargs)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {number}")
    return number


def _config_path(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        return args.config
    if os.environ.get("HELPDESK_CONFIG"):
        return Path(os.environ["HELPDESK_CONFIG"])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(_config_path(args))


def _demo_settings(args: argparse.Namespace) -> Settings:
    """The configured settings (knowledge base, languages, tickets, SLA, ...), but talking only
    to this terminal: messengers off, one staff chat, the demo's own database and log file."""
    directory = Path(tempfile.mkdtemp(prefix="helpdesk-demo-"))
    args.log_file = directory / "demo.log"
    database = args.database or f"sqlite+aiosqlite:///{directory}/demo.sqlite3"
    args.config_used = _config_path(args)
    return load_settings(args.config_used, env={}, adjust=partial(_console_only, database))


def _console_only(database: str, raw: dict) -> None:
    from channels.registry import CHANNEL_KINDS

    for kind in CHANNEL_KINDS:
        raw[kind.name] = {}  # the defaults: off, and none of the section's tokens is needed
    raw["console"] = {"enabled": True}
    staff = raw.setdefault("staff", {})
    staff.update(channel="console", chat_id="staff")
    staff.pop("lines", None)  # the terminal is one staff chat
    roles = raw.setdefault("roles", {})
    for role, member in (("admins", "console:admin"), ("agents", "console:agent")):
        roles[role] = [*roles.get(role, ()), member]  # the demo's "admin>" and "agent>"
    raw["database"] = {**raw.get("database", {}), "url": database}


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console_session import lines_from, lines_from_terminal

    if args.script is None:
        lines = lines_from_terminal(sys.stdout)
        echo = False
        print(_demo_banner(args))
    elif str(args.script) == "-":
        lines, echo = lines_from(sys.stdin), True
    else:
        if not args.script.is_file():
            raise _UserError(f"{args.script}: no such file")
        lines, echo = lines_from(args.script.read_text(encoding="utf-8").splitlines()), True
    return await _console(settings, lines, echo=echo, language_hint=args.lang)


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    """The enabled messengers as a service; with none enabled, the console on this database."""
    if any(channel != "console" for channel in settings.enabled_channels):
        from bot.runner import run_service

        await run_service(settings)
        return 0
    from bot.console_session import lines_from_terminal

    print(_demo_banner(args))
    return await _console(settings, lines_from_terminal(sys.stdout), echo=False)


async def _console(settings: Settings, lines, *, echo: bool, language_hint: str = "en") -> int:
    from bot.app import build_app
    from bot.console_session import run_console
    from channels.console import ConsoleAdapter

    adapter = ConsoleAdapter(sys.stdout, staff_chat_id=str(settings.staff.chat_id))
    app = await build_app(settings, {adapter.name: adapter})
    try:
        await run_console(app, adapter, lines, echo=echo, language_hint=language_hint)
    finally:
        await app.close()
    return 0


def _demo_banner(args: argparse.Namespace) -> str:
    from channels import console

    usage = (console.__doc__ or "").split("\n", 2)[2].rstrip()
    notes = []
    if getattr(args, "log_file", None) is not None:
        config = getattr(args, "config_used", None)
        notes.append(
            f"Settings: {config} (messengers, support lines and the database are the demo's own)."
            if config
            else "Settings: the defaults (--config FILE to try yours)."
        )
        notes.append(f"Log: {args.log_file}")
    notes.append("Ctrl-D or Ctrl-C quits.")
    return f"Helpdesk console. {usage}\n\n" + "\n".join(notes) + "\n"


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import upgrade_database

    await upgrade_database(settings.database.url)
    print(f"database is up to date: {settings.database.url_for_logs}")
    return 0


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    import csv

    from bot.app import engine_config
    from core.i18n import Texts
    from core.reports.build import build_report, parse_period
    from core.reports.chart import render_chart
    from core.reports.format import render_report, report_rows
    from core.work import utc_now

    for path in filter(None, (args.csv, args.png)):
        _check_writable(path)
    zone = settings.bot.tzinfo
    period = parse_period(f"{args.first}..{args.last}", utc_now(), zone)
    if period is None:
        raise _UserError("--from and --to must be days YYYY-MM-DD, --from first, at most 366 days")
    config = engine_config(settings, {})
    lines = config.support_lines()
    if args.line is not None and lines.named(args.line) is None:
        raise _UserError(
            f"no support line {args.line!r} (known: {', '.join(known.name for known in lines)})"
        )
    line = lines.named(args.line).name if args.line else None
    async with _configured_store(settings) as store, store.transaction() as tx:
        goal = config.sla.goal if config.sla else None
        report = await build_report(tx, period, lines, utc_now(), line, goal)
    text = partial(
        Texts(settings.bot.default_language).get, args.lang or settings.bot.default_language
    )
    print(render_report(report, text))
    if args.csv is not None:
        with args.csv.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(("metric", "value"))
            writer.writerows(report_rows(report))
        print(f"figures written to {args.csv}")
    if args.png is not None:
        args.png.write_bytes(render_chart(report, text))
        print(f"chart written to {args.png}")
    return 0


async def _kb_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.knowledge_files import import_file
    from core.work import utc_now
    from knowledge.io import KnowledgeFileError

    if not args.file.is_file():
        raise _UserError(f"{args.file}: no such file")
    async with _configured_store(settings) as store:
        try:
            result = await import_file(store, args.file, utc_now())
        except KnowledgeFileError as error:
            raise _UserError(str(error)) from None
    print(f"imported {args.file}: {result.created} added, {result.updated} replaced")
    return 0


async def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from storage.backup import BackupRefused, backup_sqlite
    from storage.urls import parse_database_url

    url = parse_database_url(settings.database.url)
    _check_writable(args.file)
    try:
        size = await asyncio.to_thread(backup_sqlite, url, args.file)
    except BackupRefused as refused:
        raise _UserError(str(refused)) from None
    print(f"backed up to {args.file} ({size:,} bytes, integrity checked)")
    return 0


async def _user_export(settings: Settings, args: argparse.Namespace) -> int:
    from storage.personal_data import export_user

    channel, external_id = _identity(args.identity)
    if args.file is not None:
        _check_writable(args.file)
    async with _configured_store(settings) as store:
        found = await store.run_sync(lambda c: export_user(c, channel, external_id))
    if found is None:
        raise _UserError(f"no user {args.identity} is known")
    text = json.dumps(found, ensure_ascii=False, indent=2, default=str)
    if args.file is None:
        print(text)
    else:
        args.file.write_text(text + "\n", encoding="utf-8")
        print(f"exported {args.identity} to {args.file}")
    return 0


async def _user_erase(settings: Settings, args: argparse.Namespace) -> int:
    from storage.personal_data import erase_user

    channel, external_id = _identity(args.identity)
    if not args.yes:
        raise _UserError(f"erasing {args.identity} cannot be undone: add --yes to confirm")
    now = datetime.now(UTC)
    async with _configured_store(settings) as store:
        counts = await store.run_sync(lambda c: erase_user(c, channel, external_id, now))
    if counts is None:
        raise _UserError(f"no user {args.identity} is known")
    print(f"erased {args.identity}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


async def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    from core.api.tokens import TokenError, create_token

    async with _configured_store(settings) as store:
        try:
            token, secret = await create_token(store, args.name, args.scope, datetime.now(UTC))
        except TokenError as error:
            raise _UserError(str(error)) from error
    print(
        f"token {token.name} ({', '.join(sorted(token.scopes))}); keep it, it is not shown again:"
    )
    print(secret)
    return 0


async def _token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from core.api.tokens import revoke_token

    async with _configured_store(settings) as store:
        if await revoke_token(store, args.name, datetime.now(UTC)) is None:
            raise _UserError(f"no token named {args.name!r}")
    print(f"token {args.name} revoked")
    return 0


async def _token_list(settings: Settings, args: argparse.Namespace) -> int:
    async with _configured_store(settings) as store, store.transaction() as tx:
        tokens = await tx.api_tokens.list()
    for token in tokens:
        print(
            f"{token.name}\t{', '.join(sorted(token.scopes))}\tcreated {token.created_at:%Y-%m-%d}"
        )
    if not tokens:
        print("no tokens")
    return 0


def _identity(text: str) -> tuple[str, str]:
    from core.roles import parse_identity

    identity = parse_identity(text)
    if identity is None:
        raise _UserError(f"{text!r} is not CHANNEL:ID (e.g. telegram:12345)")
    return identity


@asynccontextmanager
async def _configured_store(settings: Settings) -> AsyncIterator[SqlStore]:
    """The configured database, open for one command."""
    from storage.database import open_store

    store = await open_store(settings.database.url, options=settings.database.store_options())
    try:
        yield store
    finally:
        await store.close()


async def _kb_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.knowledge_files import export_file
    from knowledge.io import file_format

    file_format(args.file)  # an unknown format is refused before anything is read
    _check_writable(args.file)
    async with _configured_store(settings) as store:
        count = await export_file(store, args.file)
    print(f"exported {count} entries to {args.file}")
    return 0


async def _kb_ask(settings: Settings, args: argparse.Namespace) -> int:
    from core.knowledge_base import KnowledgeBase, Thresholds
    from knowledge.semantic import create_matcher

    matcher = create_matcher(semantic=settings.knowledge.semantic)
    async with _configured_store(settings) as store:
        knowledge = KnowledgeBase(matcher, store)
        async with store.transaction() as tx:
            entries = await tx.faq.list(include_disabled=False)
        await knowledge.load(entries)  # with the sentence vectors the bot keeps
    if not entries:
        from knowledge import sample_faq_path

        raise _UserError(
            "the knowledge base is empty: load the bundled sample with "
            f"`helpdesk kb import {sample_faq_path()}` or your own file the same way "
            "(`helpdesk run` also loads the sample into an empty base)"
        )
    matches = knowledge.search(args.question, args.lang, limit=args.limit)
    thresholds = Thresholds(*settings.knowledge.thresholds(matcher.default_thresholds))
    print(
        f"decision: {thresholds.decide(matches).value} "
        f"(answer >= {thresholds.answer:.2f}, suggest >= {thresholds.suggest:.2f})"
    )
    for rank, match in enumerate(matches, 1):
        entry = knowledge.get(match.entry_id)
        details = " ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in match.details.items()
        )
        print(
            f"{rank}. #{match.entry_id} [{entry.language}] {match.confidence:.3f}  {match.question}"
        )
        if details:
            print(f"   {details}")
    if not matches:
        print("no candidates")
    return 0


def _check_writable(path: Path) -> None:
    """Refuse an output file whose directory is missing before any work is done."""
    directory = path.parent
    if not directory.is_dir():
        raise _UserError(f"cannot write {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise _UserError(f"cannot write {path}: the directory {directory} is not writable")

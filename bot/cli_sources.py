"""`greenroom sources add|list|remove|sync`: a knowledge base's registered sources.

Tokens come from the settings (GREENROOM_NOTION_TOKEN, GREENROOM_GOOGLE_TOKEN) and are never
printed; heavy modules load only when a sub-command runs.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bot.settings import Settings

_LIST_OPTIONS = ("tags", "include", "exclude")  # a plain value is read as a comma list


def add_sources_parser(sub: Any) -> None:
    p = sub.add_parser("sources", help="add, list, remove or sync a knowledge base's sources")
    src = p.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    s = src.add_parser("add", help="register a source and sync it once")
    s.add_argument("kind", help="folder, google_doc, notion_page, notion_database, notion_export,"
                   " web_page or sitemap")  # fmt: skip
    s.add_argument("target", help="the folder, link or id")
    s.add_argument("--kb", default="default")
    s.add_argument("--schedule", type=int, metavar="MINUTES", help="re-sync every N minutes")
    s.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a connector option, e.g. tags=gear,setup or max_urls=50 (repeatable)",
    )
    s.add_argument("--no-sync", action="store_true", help="register only")
    s = src.add_parser("list", help="each source with its schedule and last result")
    s.add_argument("--kb", default="default")
    s = src.add_parser("remove", help="unregister a source and remove its documents")
    s.add_argument("key", help="the source's key (or its target)")
    s.add_argument("--kb", default="default")
    s = src.add_parser("sync", help="sync one source, or all of them")
    s.add_argument("key", nargs="?", help="the source's key (or its target); default: all")
    s.add_argument("--kb", default="default")


def parse_options(pairs: list[str]) -> dict[str, Any]:
    from bot.cli_commands import UserError

    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--option takes KEY=VALUE, not {pair!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if name in _LIST_OPTIONS and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        options[name.strip()] = value
    return options


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.cli_commands import open_library
    from ingest.connectors.outbound import outbound_client
    from ingest.connectors.spec import SourceSpec
    from knowledge import SourceSyncer

    library = open_library(settings)

    async def run() -> int:
        # The host's own operator may fetch from its own network (an intranet wiki, say).
        client = outbound_client(allow_private=True)
        syncer = SourceSyncer(library, client, settings.source_tokens())
        try:
            if args.sources_command == "add":
                spec = SourceSpec(args.kind, args.target, parse_options(args.option), args.schedule)
                record, outcome = await syncer.add(args.kb, spec, sync=not args.no_sync)
                print(f"added {record.key}")
                return _print_outcomes([outcome] if outcome else [])
            if args.sources_command == "list":
                kb = await syncer.kb(args.kb)
                records = await syncer.list(args.kb)
                counts = dict(await asyncio.to_thread(kb.source_counts))
                if not records:
                    print(f"no sources in {args.kb!r}; add one with: greenroom sources add")
                for record in records:
                    _print_record(record, counts.get(record.source_name, 0))
                return 0
            if args.sources_command == "remove":
                record, report = await syncer.remove(args.kb, args.key)
                print(f"removed {record.key} and its {report.removed} documents")
                return 0
            if args.key:
                return _print_outcomes([await syncer.sync(args.kb, args.key)])
            return _print_outcomes(await syncer.sync_all(args.kb))
        finally:
            await syncer.aclose()

    return asyncio.run(run())


def _print_record(record, documents: int) -> None:
    schedule = (
        f"every {record.spec.schedule_minutes} min"
        if record.spec.schedule_minutes
        else ("watched by the bot" if record.watched else "on demand")
    )
    synced = (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.last_synced_at))
        if record.last_synced_at
        else "never"
    )
    result = record.last_result
    print(record.key)
    print(f"  kind: {record.kind}    target: {record.spec.target}")
    if record.spec.options:
        print(f"  options: {json.dumps(record.spec.options, sort_keys=True)}")
    print(f"  schedule: {schedule}    documents: {documents}    last synced: {synced}")
    print(f"  last result: {f'{result.status}: {result.message}' if result else 'none yet'}")


def _print_outcomes(outcomes) -> int:
    """One line per source; exit code 1 when a source could not be synced."""
    for outcome in outcomes:
        result = outcome.result
        print(f"{outcome.key}: {result.status}: {result.message}")
        for name, reason in result.failures:
            print(f"  failed: {name}: {reason}")
    return 1 if any(o.result.status == "failed" for o in outcomes) else 0

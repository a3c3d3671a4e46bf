"""The `greenroom` command line: ingest notes, ask questions, evaluate, run the bot."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli_sources import add_sources_parser
from bot.cli_twitch import add_twitch_parser
from bot.logs import configure_logging

log = logging.getLogger("greenroom")

# bot.clips.ClipStatus's values; spelled out so `--help` needs no media libraries loaded.
CLIP_STATUSES = (
    "submitted",
    "in_review",
    "approved",
    "rejected",
    "changes_requested",
    "held",
    "published",
    "superseded",
)


def _limit_blas_threads() -> None:
    # numpy's BLAS threads and torch's threads fight over two cores: one BLAS thread keeps
    # query latency steady. Must be set before numpy loads, so it happens first in main().
    # (Not OMP_NUM_THREADS: that would also hold torch, and so all embedding, to one core.)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenroom",
        description="Greenroom: answers fans from a streamer's notes, and runs the clip review.",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="where stores live (default ./data, or GREENROOM_DATA_DIR)"
    )
    parser.add_argument("--model", help="embedding model name or local folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "start",
        help="the quick start: ingest examples/notes and answer samples,"
        " or start the bot when DISCORD_TOKEN is set",
    )
    p.add_argument("--notes", type=Path, default=Path("examples/notes"))

    p = sub.add_parser("ingest", help="ingest folders or files of notes into a knowledge base")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--kb", default="default", help="knowledge base name (a guild id for the bot)")
    p.add_argument("--include", action="append", default=[], help="glob of files to take")
    p.add_argument("--exclude", action="append", default=[], help="glob of files to skip")
    p.add_argument("--max-file-mb", type=float, default=2.0, help="skip files larger than this")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("ask", help="ask the knowledge base a question")
    p.add_argument("question")
    p.add_argument("--kb", default="default")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument(
        "--llm", action="store_true", help="a written answer from GREENROOM_LLM_MODEL, checked"
    )

    p = sub.add_parser("kb", help="list, inspect or remove knowledge bases")
    kb_sub = p.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    kb_sub.add_parser("list", help="list knowledge bases")
    s = kb_sub.add_parser("stats", help="documents, chunks and sources of one knowledge base")
    s.add_argument("--kb", default="default")
    s = kb_sub.add_parser("remove", help="delete a knowledge base and its vectors")
    s.add_argument("name")
    s = kb_sub.add_parser(
        "migrate", help="copy the vectors on disk to a Chroma server (nothing re-embedded)"
    )
    s.add_argument("--to-server", required=True, metavar="URL", help="e.g. http://127.0.0.1:8000")

    add_sources_parser(sub)
    add_twitch_parser(sub)

    sub.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")

    p = sub.add_parser("sync-commands", help="push the slash commands to Discord")
    p.add_argument("--guild", type=int, help="sync to one server only (instant), else globally")

    p = sub.add_parser("console", help="ask questions locally, rendered as the bot would answer")
    p.add_argument("--kb", default="default")

    p = sub.add_parser("config", help="read or change a server's settings")
    cfg_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    s = cfg_sub.add_parser("show", help="show a server's settings")
    s.add_argument("--guild", type=int, required=True)
    s = cfg_sub.add_parser("set", help="change one setting")
    s.add_argument("--guild", type=int, required=True)
    s.add_argument("key")
    s.add_argument("value")

    p = sub.add_parser("clips", help="the clip green room's files")
    clips_sub = p.add_subparsers(dest="clips_command", metavar="ACTION", required=True)
    s = clips_sub.add_parser(
        "export", help="copy clips and a manifest (JSON and CSV) into a folder"
    )
    s.add_argument("dest", type=Path, metavar="DIR")
    s.add_argument(
        "--status",
        action="append",
        choices=CLIP_STATUSES,
        help="clips in this state (repeatable; default: approved)",
    )
    s.add_argument("--guild", type=int, help="one server only (default: every server)")

    p = sub.add_parser(
        "backup", help="copy the data directory into a folder, safely while the bot runs"
    )
    p.add_argument("dest", type=Path, metavar="DIR", help="a new or empty folder")
    p = sub.add_parser("restore", help="make the data directory what a backup folder holds")
    p.add_argument("source", type=Path, metavar="DIR", help="a folder `greenroom backup` wrote")
    p.add_argument(
        "--force", action="store_true", help="replace a data directory that is not empty"
    )

    p = sub.add_parser("eval", help="retrieval and abstention figures for a question set")
    p.add_argument("questions", type=Path)
    p.add_argument("--kb", default="default")
    p.add_argument("-k", type=int, default=5, help="the cut-off shown first (1, 3, 5 or 10)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--llm", action="store_true", help="the fan's view with written answers (GREENROOM_LLM_*)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _limit_blas_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    from bot.settings import Settings

    overrides = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.model:
        overrides["model"] = args.model
    settings = Settings(**overrides)
    configure_logging(logging.DEBUG if args.verbose else settings.log_level, settings.log_format)
    if args.command is None:
        parser.print_help()
        return 2
    from bot import cli_commands
    from ingest.errors import UserFacingError

    try:
        return cli_commands.dispatch(args, settings)
    except UserFacingError as exc:  # every error a person can act on; the rest is a bug
        print(f"greenroom: {exc.describe()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the next run picks up where this one stopped", file=sys.stderr)
        return 130


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())

"""Log formats: text with the request's ids in brackets, or one JSON object a line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from bot.logs import configure_logging, log_handler, request_context

REPO_ROOT = Path(__file__).resolve().parents[2]


def emit(log_format: str, *, exc: bool = False, **ids: object) -> str:
    stream = io.StringIO()
    logger = logging.getLogger("greenroom-test-logs")
    logger.propagate = False
    handler = log_handler(log_format, stream)
    logger.addHandler(handler)
    try:
        with request_context(**ids):
            if exc:
                try:
                    raise RuntimeError("store fell over")
                except RuntimeError:
                    logger.exception("sync of %s failed", "folder:notes")
            else:
                logger.warning("sync of %s failed", "folder:notes")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_text_lines_name_the_request_before_any_traceback():
    text = emit("text", exc=True, guild_id=11, interaction_id=22)
    first, *rest = text.splitlines()
    assert first.endswith(
        "greenroom-test-logs: sync of folder:notes failed [guild=11 interaction=22]"
    )
    assert rest[0] == "Traceback (most recent call last):"
    assert "RuntimeError: store fell over" in rest[-1]
    plain = emit("text")  # outside a request: no brackets
    assert plain.rstrip().endswith("sync of folder:notes failed")


def test_json_lines_are_objects_with_ids_and_traceback():
    (line,) = emit("json", exc=True, guild_id=11, message_id=33, interaction_id=None).splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "greenroom-test-logs"
    assert entry["message"] == "sync of folder:notes failed"
    assert entry["guild_id"] == "11" and entry["message_id"] == "33"
    assert "interaction_id" not in entry
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    assert "RuntimeError: store fell over" in entry["exception"]
    assert "guild_id" not in json.loads(emit("json"))


def test_configure_logging_leaves_a_host_programs_logging_alone():
    root = logging.getLogger()
    before = list(root.handlers)
    assert before, "pytest's own capture handlers are installed"
    configure_logging("DEBUG", "json")
    assert root.handlers == before


def test_cli_logs_json_lines_and_no_secrets(tmp_path: Path):
    """`greenroom` in a process of its own: GREENROOM_LOG_FORMAT=json makes every line JSON."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GREENROOM_") and k != "DISCORD_TOKEN"
    }
    env |= {
        "GREENROOM_LOG_FORMAT": "json",
        "GREENROOM_DATA_DIR": str(tmp_path / "data"),
        "GREENROOM_NOTION_TOKEN": "secret_notion_token_value",
        "DISCORD_TOKEN": "discord.token.value",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "config", "show", "--guild", "42"],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert any(line["message"].startswith("migrated guild_settings") for line in lines), lines
    assert all(line["level"] == "INFO" for line in lines)
    for secret in ("secret_notion_token_value", "discord.token.value"):
        assert secret not in done.stderr and secret not in done.stdout

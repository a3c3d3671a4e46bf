"""Log lines as text or JSON, each carrying the guild and interaction (or message) it served.

Every task discord.py starts for a gateway event is created while the event is parsed, and a
task copies the context it was created in. So the ids are set around the parse of
INTERACTION_CREATE and MESSAGE_CREATE (`track_requests`): the command, button or listener
tasks, and the worker threads they start with `asyncio.to_thread`, all log with them.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

# guild_id, interaction_id or message_id of the request being handled (as Discord's strings)
_request: ContextVar[dict[str, str] | None] = ContextVar("greenroom_request", default=None)

REQUEST_FIELDS = ("guild_id", "interaction_id", "message_id")
# These log every HTTP request (with its full address) or model load at INFO.
NOISY_LOGGERS = ("chromadb", "httpx", "httpcore", "sentence_transformers", "aiohttp.access")


@contextmanager
def request_context(**ids: object) -> Iterator[None]:
    """Log lines inside carry these ids (None values are left out)."""
    token = _request.set({k: str(v) for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        _request.reset(token)


def current_request() -> dict[str, str]:
    return dict(_request.get() or {})


def track_requests(parsers: MutableMapping[str, Callable[[dict[str, Any]], None]]) -> None:
    """Wrap discord.py's parsers of interactions and messages (a ConnectionState's `parsers`)
    so that everything they start runs in that request's logging context."""

    def wrap(parse: Callable[[dict[str, Any]], None], id_field: str):
        def parse_in_context(data: dict[str, Any]) -> None:
            with request_context(guild_id=data.get("guild_id"), **{id_field: data.get("id")}):
                parse(data)

        return parse_in_context

    for event, id_field in (
        ("INTERACTION_CREATE", "interaction_id"),
        ("MESSAGE_CREATE", "message_id"),
    ):
        parsers[event] = wrap(parsers[event], id_field)


class RequestFilter(logging.Filter):
    """Puts the current request's ids on each record (`record.request`, a dict)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request = current_request()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = getattr(record, "request", None) or {}
        if not ids:
            return text
        tags = " ".join(f"{k.removesuffix('_id')}={ids[k]}" for k in REQUEST_FIELDS if k in ids)
        head, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{head} [{tags}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request's ids, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "request", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def log_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler in the given format ("text" or "json") that tags request lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(level: str | int, log_format: str = "text") -> None:
    """The process's logging, set up in main() from the settings. Like `logging.basicConfig`,
    it leaves logging alone when something else (pytest, a host program) already set it up."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "greenroom", False)]
    if len(ours) != len(root.handlers):
        return
    for old in ours:
        root.removeHandler(old)
    handler = log_handler(log_format)
    handler.greenroom = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else getattr(logging, level.upper()))
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

"""Running a real discord.py bot against the double, plus pytest fixtures.

Use ``run_bot`` inside the test's running loop::

    async with run_bot(discord_double, bot) as running:
        inter = await discord_double.slash_command(guild, channel, member, "ask", {...})

Restarting is just a second ``run_bot`` with a NEW bot object: the double's state persists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import discord
import pytest_asyncio
import yarl

from .driver import DiscordDouble

#: Options every bot under test should be created with (merged by ``bot_kwargs``).
FAST_BOT_OPTIONS: dict[str, Any] = {"guild_ready_timeout": 0.05, "chunk_guilds_at_startup": False}


def bot_kwargs(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``commands.Bot(...)``: fast readiness, all non-presence intents."""
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    return {"intents": intents, **FAST_BOT_OPTIONS, **overrides}


class _LogCapture(logging.Handler):
    def __init__(self, double: DiscordDouble) -> None:
        super().__init__(logging.WARNING)
        self.double = double

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.double._capture_log(record)
        except Exception:  # pragma: no cover - never let logging raise
            self.handleError(record)


_patch_stack: list[tuple[str, yarl.URL]] = []


@contextlib.contextmanager
def patched_discord(double: DiscordDouble):
    """Point discord.py's REST base and default gateway at the double (restored on exit)."""
    _patch_stack.append((discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY))
    discord.http.Route.BASE = double.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(double.gateway_url)
    try:
        yield
    finally:
        base, gateway = _patch_stack.pop()
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


class RunningBot:
    """A bot connected to the double. ``await running.stop()`` to close it early."""

    def __init__(self, double: DiscordDouble, bot: discord.Client, task: asyncio.Task) -> None:
        self.double = double
        self.bot = bot
        self.task = task
        self._stopped = False

    async def stop(self, timeout: float = 5.0) -> None:
        """Close the bot and await its ``start()`` task (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.double._unwatch(self.task)
        if not self.bot.is_closed():
            await self.bot.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except (asyncio.CancelledError, TimeoutError):
            self.task.cancel()
        except Exception as exc:
            self.double._internal_error("bot.start() after close", exc)


@contextlib.asynccontextmanager
async def run_bot(
    double: DiscordDouble,
    bot: discord.Client,
    token: str = "test-token",
    *,
    ready_timeout: float = 5.0,
    error_loggers: Iterable[str] = ("discord",),
    check_errors: bool = True,
) -> AsyncIterator[RunningBot]:
    """Start ``bot`` against ``double`` and wait for ``on_ready``; close it on exit.

    * ``bot.start(token)`` runs as a watched task: if it crashes, waits fail at once.
    * WARNING+ records of ``error_loggers`` are captured: ERRORs go to ``double.errors``
      (and make waits raise ``BotError`` while ``double.raise_on_error``), WARNINGs to
      ``double.warnings``. On a clean exit, errors nobody has seen yet raise ``BotError``.
    """
    if double.port == 0:
        raise RuntimeError("start the double first (async with DiscordDouble() as double)")
    state = getattr(bot, "_connection", None)
    if state is not None and getattr(state, "guild_ready_timeout", 0) > 0.5:
        state.guild_ready_timeout = FAST_BOT_OPTIONS["guild_ready_timeout"]
    handler = _LogCapture(double)
    loggers = [logging.getLogger(name) for name in error_loggers]
    for logger in loggers:
        logger.addHandler(handler)
    with patched_discord(double):
        task = asyncio.create_task(bot.start(token), name="discord-double-bot")
        double._watch(task)
        running = RunningBot(double, bot, task)
        try:
            await _wait_ready(double, bot, task, ready_timeout)
            yield running
        finally:
            await running.stop()
            for logger in loggers:
                logger.removeHandler(handler)
    if check_errors:
        double.raise_unreported_errors()


async def _wait_ready(
    double: DiscordDouble, bot: discord.Client, task: asyncio.Task, timeout: float
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not bot.is_ready():
        if task.done():
            exc = None if task.cancelled() else task.exception()
            raise RuntimeError(f"bot.start() ended before the bot was ready: {exc!r}") from exc
        if loop.time() > deadline:
            raise TimeoutError(f"the bot was not ready after {timeout}s" + double._diagnostics())
        await asyncio.sleep(0.005)


@pytest_asyncio.fixture
async def discord_double() -> AsyncIterator[DiscordDouble]:
    """A started DiscordDouble (function scope). Build the world, then ``run_bot``."""
    async with DiscordDouble() as double:
        yield double

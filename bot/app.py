"""The Discord application: the Bot subclass, its start-up, and `greenroom run`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import discord
from discord.ext import commands

from bot.logs import track_requests
from bot.monitoring import serve_monitoring
from bot.services import Services
from bot.settings import Settings
from bot.tree import GreenroomTree

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.exts.ask",
    "bot.exts.kb",
    "bot.exts.sources",
    "bot.exts.admin",
    "bot.exts.clips",
    "bot.exts.twitch",
)


class GreenroomBot(commands.Bot):
    def __init__(
        self, services: Services, *, extensions: Sequence[str] = EXTENSIONS, **options: Any
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True  # questions asked by mention and in ask channels
        options.setdefault("intents", intents)
        super().__init__(
            command_prefix=commands.when_mentioned,
            tree_cls=GreenroomTree,
            # Nothing the bot sends pings anyone unless a message opts in explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.services = services
        self.extension_names = tuple(extensions)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Log lines of a command, button or message carry its guild and interaction ids.
        track_requests(self._connection.parsers)

    async def setup_hook(self) -> None:
        for name in self.extension_names:
            await self.load_extension(name)

    async def on_message(self, message: discord.Message) -> None:
        """No text commands: cogs listen to messages themselves."""

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Start a background task that is kept (never garbage-collected) and logs its error."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error(
                "background task %s failed",
                task.get_name(),
                exc_info=(type(exc), exc, exc.__traceback__),
            )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().close()


async def build_services(settings: Settings) -> Services:
    from knowledge import Embedder, Library

    embedder = await asyncio.to_thread(Embedder, settings.model)
    library = Library(settings.data_dir, embedder, chroma_url=settings.chroma_url)
    return await Services.open(settings, library)


async def _run(settings: Settings) -> None:
    services = await build_services(settings)
    try:
        async with (
            GreenroomBot(services) as bot,
            serve_monitoring(bot, settings.metrics_addr),
        ):
            with _stop_on_sigterm():
                await bot.start(settings.discord_token.get_secret_value())
    finally:
        await services.close()


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """`docker stop` sends SIGTERM, which a container's first process would otherwise ignore:
    it cancels the run, so the bot, the endpoint and the stores close as after Ctrl-C."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def run_bot(settings: Settings) -> int:
    if settings.discord_token is None:
        raise SystemExit("DISCORD_TOKEN is not set (environment or .env)")
    try:
        asyncio.run(_run(settings))
    except asyncio.CancelledError:
        log.info("stopped (SIGTERM)")
    return 0


async def sync_commands(
    settings: Settings, guild_id: int | None, services: Services | None = None
) -> list[str]:
    """Log in, push the command tree to Discord (globally or to one guild), log out."""
    own_services = services is None
    services = services or await build_services(settings)
    try:
        bot = GreenroomBot(services)
        async with bot:
            await bot.login(settings.discord_token.get_secret_value())
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                bot.tree.copy_global_to(guild=guild)
                synced = await bot.tree.sync(guild=guild)
            else:
                synced = await bot.tree.sync()
            return [command.name for command in synced]
    finally:
        if own_services:
            await services.close()

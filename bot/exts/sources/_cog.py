"""Live sync inside the bot: watched folders re-synced within seconds of a change, remote
sources on their schedule. The loops live in knowledge/live_sync.py; this cog starts them
once the bot is connected (not when `greenroom sync-commands` only loads the extensions) and
stops them when it is unloaded or the bot closes."""

from __future__ import annotations

import asyncio
import logging

from discord.ext import commands

from knowledge import LiveSync

log = logging.getLogger(__name__)


class LiveSyncCog(commands.Cog):
    def __init__(self, bot) -> None:
        self.bot = bot
        settings = bot.services.settings
        self.live = LiveSync(
            bot.services.sources,
            poll_seconds=settings.source_poll_seconds,
            tick_seconds=settings.source_tick_seconds,
        )
        self._tasks: list[asyncio.Task] = []

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self._tasks:  # on_ready fires again after a reconnect
            return
        self._tasks = [
            self.bot.spawn(self.live.watch_folders(), name="sources:watch-folders"),
            self.bot.spawn(self.live.run_schedule(), name="sources:schedule"),
        ]
        log.info("live sync started")

    async def cog_unload(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

"""A written answer streamed into its message: the checked text so far, at most one edit a second.

The model's reply arrives in pieces; `show()` only records the latest text, and one task sends
it (the first time as the message, later as edits), waiting a second after each. `finish()`
stops that task and, a second after the last edit, puts the final card (the tier, the sources
line and the buttons) in the same message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from bot.render import writing_embed

log = logging.getLogger(__name__)

EDIT_INTERVAL_S = 1.0  # Discord allows about five edits of a message in five seconds

SendFirst = Callable[[discord.Embed], Awaitable[discord.Message]]


class StreamedCard:
    def __init__(
        self, question: str, send_first: SendFirst, *, interval: float = EDIT_INTERVAL_S
    ) -> None:
        self.question = question
        self._send_first = send_first
        self.interval = interval
        self.message: discord.Message | None = None
        self._latest = ""
        self._shown = ""
        self._last_sent = -float("inf")  # monotonic time the last send or edit finished
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    async def show(self, text: str) -> None:
        """The checked text so far (called by the writer for each longer prefix)."""
        if self._closed or not text:
            return
        self._latest = text
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ask:stream")
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._last_sent + self.interval - time.monotonic()
            if delay > 0 and not self._closed:
                await asyncio.sleep(delay)
            if self._closed:
                return
            text = self._latest
            if text == self._shown:
                continue
            embed = writing_embed(self.question, text)
            if self.message is None:
                self.message = await self._send_first(embed)
            else:
                await self.message.edit(embed=embed)
            self._shown = text
            self._last_sent = time.monotonic()

    async def _stop(self) -> None:
        self._closed = True
        self._wake.set()
        if self._task is not None:
            try:
                await self._task
            except discord.HTTPException:
                log.info("a streamed edit failed; the final card is sent anyway", exc_info=True)

    async def finish(self, embed: discord.Embed, view: discord.ui.View) -> discord.Message | None:
        """The final card in the streamed message; None if nothing was streamed (send it)."""
        await self._stop()
        if self.message is None:
            return None
        delay = self._last_sent + self.interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await self.message.edit(embed=embed, view=view)
        return self.message

    async def abort(self) -> None:
        """Stop streaming without a final card (the question failed; its error is reported)."""
        await self._stop()

"""The bot with its vectors on a Chroma server (GREENROOM_CHROMA_URL) that goes down and comes
back: fans are told the knowledge base is unavailable, the bot keeps running, /healthz says the
store is unreachable, and answers come back with the server, without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bot.app import GreenroomBot
from bot.errors import KB_UNAVAILABLE
from bot.monitoring import serve_monitoring
from tests.bot.conftest import ANSWERABLE, open_services
from tests.chroma_server import chroma_server  # noqa: F401 - the module's server
from tests.discord_double import bot_kwargs, run_bot

pytestmark = pytest.mark.asyncio


async def test_the_bot_says_the_knowledge_base_is_unavailable_and_keeps_running(
    world,
    embedder,
    tmp_path: Path,
    notes_dir: Path,
    chroma_server,  # noqa: F811 - the fixture imported above
) -> None:
    server = chroma_server
    async with open_services(
        tmp_path / "data", embedder, world, notes_dir, chroma_url=server.url
    ) as services:
        assert services.library.vectors.describe().startswith(f"chroma server {server.url}")
        assert not (tmp_path / "data" / "chroma").exists()
        await services.guild_configs.update(
            world.guild.id, ask_channels=(world.ask.id,), auto_answer=True
        )
        bot = GreenroomBot(services, **bot_kwargs())
        async with (
            run_bot(world.double, bot, error_loggers=("discord", "bot", "knowledge")),
            serve_monitoring(bot, "127.0.0.1:0") as endpoint,
            httpx.AsyncClient(base_url=endpoint.url, timeout=10) as health,
        ):
            await bot.tree.sync()

            async def ask() -> str:
                inter = await world.double.slash_command(
                    world.guild, world.general, world.fan, "ask", {"question": ANSWERABLE}
                )
                msg = await inter.wait_message(timeout=10)
                return msg.text  # the content, or the card's text whatever its tier

            async def mention() -> str:
                mark = world.double.mark()
                await world.double.send_message(
                    world.guild, world.general, world.fan, f"<@{bot.user.id}> {ANSWERABLE}"
                )
                msg = await world.double.wait_for_message(world.general, after=mark, timeout=10)
                return msg.text  # the content, or the card's text whatever its tier

            assert "Sora 2" in await ask()
            assert (await health.get("/healthz")).json()["store"] == {"reachable": True}

            await asyncio.to_thread(server.stop)
            try:
                assert await ask() == KB_UNAVAILABLE  # the server's address stays in the log
                assert await mention() == KB_UNAVAILABLE

                # An auto-answer stays quiet: nobody asked the bot.
                def warned() -> int:
                    return sum(w.logger == "knowledge.vectors" for w in world.double.warnings)

                mark, before = world.double.mark(), warned()
                await world.double.send_message(world.guild, world.ask, world.fan, ANSWERABLE)
                for _ in range(100):
                    if warned() > before:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                assert warned() > before  # it tried, and the store did not answer
                bot_id = world.double.bot_user.id
                posted = [
                    m
                    for m in world.double.messages(world.ask)
                    if m.id > mark and m.author_id == bot_id
                ]
                assert posted == [] and world.ask.threads == []
                down = await health.get("/healthz")
                assert down.status_code == 503
                assert down.json()["store"] == {"reachable": False, "error": "ConnectError"}
                assert not bot.is_closed() and bot.is_ready()
                said = [w.message for w in world.double.warnings if w.logger == "knowledge.vectors"]
                assert said and all(f"Chroma server at {server.url}" in m for m in said)
                assert world.double.errors == []
            finally:
                await asyncio.to_thread(server.start)

            # Back: the same bot, the same store objects, answering again.
            assert "Sora 2" in await ask()
            assert "Sora 2" in await mention()
            assert (await health.get("/healthz")).status_code == 200

"""A Greenroom bot wired to real services (model, chromadb, SQLite) and the Discord double."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.app import GreenroomBot
from bot.services import Services
from bot.settings import Settings
from ingest.loaders import FolderSource
from knowledge.answer import ConfidenceModel
from knowledge.base import Library
from tests.discord_double import DiscordDouble, bot_kwargs, run_bot
from tests.discord_double.fixtures import discord_double  # noqa: F401

NOTES = {
    "alerts.md": """---
title: Alerts setup
tags: [alerts]
---
# Alerts setup

## Raid alert
The raid alert is a 6 second Runway clip of a moth swarm. It plays through a StreamElements
browser source at 1920x1080 with the sound at 40 percent volume.

## Follow alert
Follows get a short chime and the follower name in pink for 4 seconds.
""",
    "intro.md": """---
title: Neon city intro
tags: [prompts]
prompt: neon city at night, rain, a giant moth on a billboard
tool: Sora 2
---
# Neon city intro

## Prompt
The intro prompt was "neon city at night, rain, a giant moth on a billboard", made in Sora 2
with 14 generations. I picked generation 9 because the moth wings were not melted.

## Editing
The PIXELMOTH logo on the billboard is added afterwards in DaVinci Resolve.
""",
    "secret.md": """---
title: Sponsor trailer
visibility: private
---
# Sponsor trailer
The unreleased trailer for Kestrel Audio uses the codename MARIGOLD-7.
""",
}

ANSWERABLE = "how did you make the neon intro?"
UNCOVERED = "what is your favourite pizza topping?"
# These tests are about what the bot does with each tier, not about where the fitted
# thresholds fall on three tiny notes (tests/knowledge/test_answers.py checks the shipped model
# on the sample vault). So the shipped weights, with thresholds that answer what these tests
# treat as covered (ANSWERABLE scores ~0.63 here, the same words with a short follow-up ~0.68),
# suggest for a follow-up read alone ("which one did you pick?" ~0.40) and decline what they
# treat as not covered (UNCOVERED ~0.05).
BOT_TEST_TIERS = dataclasses.replace(ConfidenceModel(), answer_at=0.57, suggest_at=0.2)


@dataclass
class World:
    double: DiscordDouble
    guild: object
    other_guild: object
    ask: object
    general: object
    logs: object
    mods: object
    fan: object
    fan2: object
    mod: object
    admin: object
    outsider: object


@pytest.fixture
def notes_dir(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    for name, text in NOTES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def world(discord_double: DiscordDouble) -> World:  # noqa: F811 - the double's fixture
    double = discord_double
    guild = double.add_guild("PixelMoth", owner="pixelmoth")
    mods = guild.add_role("Mods", permissions=discord.Permissions(manage_messages=True))
    admins = guild.add_role("Admins", permissions=discord.Permissions(manage_guild=True))
    other = double.add_guild("Other server", owner="someone")
    return World(
        double=double,
        guild=guild,
        other_guild=other,
        ask=guild.add_text_channel("ask"),
        general=guild.add_text_channel("general"),
        logs=guild.add_text_channel("mod-log"),
        mods=mods,
        fan=guild.add_member("fan"),
        fan2=guild.add_member("fan2"),
        mod=guild.add_member("mod", roles=[mods]),
        admin=guild.add_member("admin", roles=[admins]),
        outsider=other.add_member("outsider"),
    )


@pytest_asyncio.fixture
async def services(
    tmp_path: Path, embedder, world: World, notes_dir: Path
) -> AsyncIterator[Services]:
    async with open_services(
        tmp_path / "data", embedder, world, notes_dir, confidence=BOT_TEST_TIERS
    ) as services:
        yield services


@asynccontextmanager
async def open_services(
    data_dir: Path,
    embedder,
    world: World,
    notes_dir: Path | None = None,
    *,
    confidence: ConfidenceModel | None = None,
    chroma_url: str | None = None,
) -> AsyncIterator[Services]:
    """Services over `data_dir` (opening it again is a restarted bot process); with `notes_dir`,
    the notes are synced into the guild's knowledge base first. `confidence` picks the tiers,
    `chroma_url` a Chroma server for the vectors."""
    settings = Settings(data_dir=data_dir, discord_token=None, chroma_url=chroma_url)
    library = Library(
        settings.data_dir, embedder, confidence=confidence, chroma_url=settings.chroma_url
    )
    services = await Services.open(settings, library)
    try:
        if notes_dir is not None:
            services.kb(world.guild.id).sync([FolderSource(notes_dir)])
        await services.guild_configs.update(
            world.guild.id,
            mod_roles=(world.mods.id,),
            log_channel=world.logs.id,
            user_cooldown_seconds=0,
        )
        yield services
    finally:
        await services.close()


@asynccontextmanager
async def greenroom(world: World, services: Services) -> AsyncIterator[GreenroomBot]:
    """Start a fresh GreenroomBot (a restart is just another `async with`)."""
    bot = GreenroomBot(services, **bot_kwargs())
    async with run_bot(world.double, bot, error_loggers=("discord", "bot", "knowledge")):
        await bot.tree.sync()  # as `greenroom sync-commands` would; the double validates them
        yield bot

"""Fixtures for the Twitch tests: a started loopback Twitch double with one app and one
broadcaster, and a Helix client logged in as that broadcaster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio

from bot.twitch.helix import HelixClient
from bot.twitch.oauth import TwitchOAuth
from bot.twitch.tokens import TokenStore, TwitchTokens
from ingest.connectors.base import Secret
from tests.twitch.double import TwitchDouble

CLIENT_ID = "greenroom-test-client"
CLIENT_SECRET = "cs-the-app-secret-value"


@dataclass
class Linked:
    twitch: TwitchDouble
    broadcaster_id: str
    store: TokenStore
    helix: HelixClient
    sleeps: list[float]


@pytest_asyncio.fixture
async def twitch() -> AsyncIterator[TwitchDouble]:
    async with TwitchDouble() as double:
        double.add_app(CLIENT_ID, CLIENT_SECRET)
        yield double


def store_tokens(twitch: TwitchDouble, path: Path, user_id: str) -> TokenStore:
    store = TokenStore(path)
    store.save(TwitchTokens.from_json(twitch.issue_tokens(user_id, CLIENT_ID)))
    return store


def make_helix(twitch: TwitchDouble, http: httpx.AsyncClient, store: TokenStore, sleeps=None):
    async def sleep(seconds: float) -> None:  # retries are recorded, not waited for
        if sleeps is not None:
            sleeps.append(seconds)

    oauth = TwitchOAuth(http, CLIENT_ID, Secret(CLIENT_SECRET), auth_url=twitch.auth_url)
    return HelixClient(http, oauth, store, api_url=twitch.api_url, sleep=sleep)


@pytest_asyncio.fixture
async def linked(twitch: TwitchDouble, tmp_path: Path) -> AsyncIterator[Linked]:
    broadcaster = twitch.add_user("PixelMoth")
    store = store_tokens(twitch, tmp_path / "data" / "twitch_tokens.json", broadcaster)
    sleeps: list[float] = []
    async with httpx.AsyncClient(timeout=5) as http:
        yield Linked(twitch, broadcaster, store, make_helix(twitch, http, store, sleeps), sleeps)

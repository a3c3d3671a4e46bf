"""Fixtures for the Twitch tests: a started loopback Twitch double with one app and one
broadcaster, and a Helix client (twitchAPI underneath) logged in as that broadcaster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.twitch.helix import HelixClient, Redemption
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


def make_helix(twitch: TwitchDouble, store: TokenStore, sleeps=None, **options) -> HelixClient:
    async def sleep(seconds: float) -> None:  # our retries are recorded, not waited for
        if sleeps is not None:
            sleeps.append(seconds)

    return HelixClient(
        CLIENT_ID,
        Secret(CLIENT_SECRET),
        store,
        api_url=twitch.api_url,
        auth_url=twitch.auth_url,
        sleep=sleep,
        **options,
    )


def redemption_of(data: dict[str, Any]) -> Redemption:
    """A redemption as the double holds it (Helix's shape), as ours."""
    return Redemption(
        id=data["id"],
        broadcaster_id=str(data["broadcaster_id"]),
        reward_id=data["reward"]["id"],
        reward_title=data["reward"].get("title", ""),
        user_id=str(data["user_id"]),
        user_login=data["user_login"],
        user_name=data["user_name"],
        user_input=data["user_input"],
        status=data["status"],
        redeemed_at=data["redeemed_at"],
    )


@pytest_asyncio.fixture
async def linked(twitch: TwitchDouble, tmp_path: Path) -> AsyncIterator[Linked]:
    broadcaster = twitch.add_user("PixelMoth")
    store = store_tokens(twitch, tmp_path / "data" / "twitch_tokens.json", broadcaster)
    sleeps: list[float] = []
    yield Linked(twitch, broadcaster, store, make_helix(twitch, store, sleeps), sleeps)

"""`greenroom twitch login|reward create|status`: link the broadcaster's Twitch channel.

The app's id and secret come from GREENROOM_TWITCH_CLIENT_ID / GREENROOM_TWITCH_CLIENT_SECRET;
the broadcaster's tokens are stored in the data directory (mode 0600) and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import stat
import time
from typing import Any

from bot.settings import Settings
from ingest.errors import UserFacingError


class TwitchCliError(UserFacingError):
    """Printed as `greenroom: ...` without a traceback, like every UserFacingError."""


def add_twitch_parser(sub: Any) -> None:
    p = sub.add_parser("twitch", help="link a Twitch channel: login, cameo reward, status")
    tw = p.add_subparsers(dest="twitch_command", metavar="ACTION", required=True)
    tw.add_parser("login", help="log in as the broadcaster (prints a link and a code to enter)")
    reward = tw.add_parser("reward", help="channel-point rewards for cameo requests")
    rw = reward.add_subparsers(dest="reward_command", metavar="ACTION", required=True)
    s = rw.add_parser("create", help="create a reward on Twitch and link it to a server")
    s.add_argument("--guild", type=int, required=True, help="the Discord server's id")
    s.add_argument("--title", required=True)
    s.add_argument("--cost", type=int, required=True, help="channel points")
    s.add_argument("--prompt", help="what viewers are asked to write")
    tw.add_parser("status", help="the login, its scopes and the linked rewards")


def _app(settings: Settings):
    """The app's client id and secret (a `Secret`, or None)."""
    from ingest.connectors.base import Secret

    if not settings.twitch_client_id:
        raise TwitchCliError(
            "GREENROOM_TWITCH_CLIENT_ID is not set (environment or .env); register an app at"
            " Twitch's developer console and set its client id and secret"
        )
    raw = settings.twitch_client_secret.get_secret_value() if settings.twitch_client_secret else ""
    return settings.twitch_client_id, Secret(raw) if raw else None


def _helix(settings: Settings):
    from bot.twitch.helix import HelixClient
    from bot.twitch.tokens import TokenStore

    client_id, secret = _app(settings)
    return HelixClient(
        client_id, secret, TokenStore(settings.twitch_tokens_path),
        api_url=settings.twitch_api_url, auth_url=settings.twitch_auth_url,
    )  # fmt: skip


def cmd_twitch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.twitch.errors import TwitchError

    command = {"login": _login, "reward": _reward_create, "status": _status}[args.twitch_command]
    try:
        return asyncio.run(command(args, settings))
    except TwitchError as exc:  # safe to show; a RequestError is already a UserFacingError
        raise TwitchCliError(str(exc)) from None


async def _login(args, settings: Settings) -> int:
    from bot.twitch.oauth import DeviceLogin
    from bot.twitch.tokens import TokenStore

    client_id, secret = _app(settings)
    login = DeviceLogin(client_id, secret, auth_url=settings.twitch_auth_url)
    user_code, url = await login.start()
    print(
        f"Open {url} as the broadcaster and enter the code {user_code} (it expires in 30 minutes).",
        flush=True,
    )
    tokens = await login.finish()
    store = TokenStore(settings.twitch_tokens_path)
    await asyncio.to_thread(store.save, tokens)
    print(
        f"Logged in to Twitch as {tokens.login} (id {tokens.user_id});"
        f" tokens stored in {store.path} (mode 0600)."
    )
    return 0


async def _open_store(settings: Settings):
    from bot.storage import Database
    from bot.twitch.requests import RequestStore

    db = await Database.open(settings.database_path)
    return db, await RequestStore.open(db)


async def _reward_create(args, settings: Settings) -> int:
    if args.cost < 1:
        raise TwitchCliError("--cost must be at least 1 channel point")
    helix = _helix(settings)
    tokens = helix.current_tokens()
    db, store = await _open_store(settings)
    try:
        for linked in await store.rewards(args.guild):
            if linked.broadcaster_id != tokens.user_id:
                raise TwitchCliError(
                    f"server {args.guild} is linked to the Twitch channel"
                    f" {linked.broadcaster_login}, not {tokens.login}"
                )
        reward = await helix.create_custom_reward(
            tokens.user_id, args.title, args.cost, prompt=args.prompt
        )
        await store.add_reward(args.guild, reward, tokens.login)
    finally:
        await db.close()
    print(
        f"Created the reward “{reward.title}” ({reward.cost} points, id {reward.id}) on"
        f" {tokens.login}'s channel for server {args.guild}."
    )
    print("Redemptions wait for the mods in the server's /greenroom setup twitch-requests")
    print("channel; a bot that is running picks the new reward up when it restarts.")
    return 0


async def _status(args, settings: Settings) -> int:
    from bot.twitch.errors import TwitchUnavailable
    from bot.twitch.helix import validate

    print(f"client id: {settings.twitch_client_id or '(not set: GREENROOM_TWITCH_CLIENT_ID)'}")
    print(f"client secret: {'set' if settings.twitch_client_secret else '(not set)'}")
    helix = _helix(settings)
    store = helix.tokens
    tokens = store.load()
    if tokens is None:
        print("login: none; run `greenroom twitch login`")
    else:
        mode = stat.S_IMODE(store.path.stat().st_mode)
        print(f"login: {tokens.login} (id {tokens.user_id}); scopes: {' '.join(tokens.scopes)}")
        print(f"token file: {store.path} (mode {mode:04o})")
        if tokens.expires_at:
            left = tokens.expires_at - time.time()
            state = f"in {left / 60:.0f} min" if left > 0 else "expired (refreshed on use)"
            print(f"access token expires: {state}")
        try:
            info = await validate(tokens.access_token, settings.twitch_auth_url)
            print("Twitch says: " + ("valid" if info else "not valid (refreshed on use)"))
        except TwitchUnavailable as exc:
            print(f"Twitch says: could not check ({exc})")
    if not settings.database_path.exists():
        print("rewards: none yet")
        return 0
    db, store = await _open_store(settings)
    try:
        rewards = await store.rewards()
        if not rewards:
            print("rewards: none yet; create one with `greenroom twitch reward create`")
        for reward in rewards:
            open_ = await store.list(reward.guild_id)
            pending = [r for r in await store.pending() if r.guild_id == reward.guild_id]
            print(
                f"reward “{reward.title}” ({reward.cost} points, id {reward.reward_id}) ->"
                f" server {reward.guild_id}: {len(open_)} open or accepted requests,"
                f" {len(pending)} Twitch updates pending"
            )
            print(f"  EventSub: {_eventsub_line(*await store.eventsub_status(reward.reward_id))}")
    finally:
        await db.close()
    return 0


def _eventsub_line(status: str, since: float | None) -> str:
    """How the bot last heard from EventSub about a reward's redemptions."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(since)) if since else ""
    if status == "enabled":
        return f"subscribed (since {when})"
    if status.startswith("revoked"):
        why = status.partition(": ")[2] or "revoked"
        return (
            f"REVOKED by Twitch ({why}) at {when}: no new cards until `greenroom twitch login`"
            " and a restart of the bot"
        )
    return "not subscribed yet (the bot subscribes when it starts)"

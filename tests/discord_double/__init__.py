"""A local Discord API double (REST + gateway on 127.0.0.1) for integration tests that run the
real discord.py client. See README.md in this folder."""

from .driver import BotError, CommandNotAvailable, DiscordDouble, Upload
from .fixtures import (
    FAST_BOT_OPTIONS,
    RunningBot,
    bot_kwargs,
    discord_double,
    patched_discord,
    run_bot,
)
from .records import CapturedLog, InteractionRecord, RequestRecord
from .state import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Message,
)
from .validation import ApiError

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "FAST_BOT_OPTIONS",
    "ApiError",
    "BotError",
    "CapturedLog",
    "CommandNotAvailable",
    "DiscordDouble",
    "FakeChannel",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "InteractionRecord",
    "Message",
    "RequestRecord",
    "RunningBot",
    "Upload",
    "bot_kwargs",
    "discord_double",
    "patched_discord",
    "run_bot",
]

"""Per-guild settings in SQLite, typed and validated, shared by slash commands and the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any

from bot.storage import Database, Migration
from ingest.errors import UserFacingError

MIGRATIONS = [
    Migration(
        1,
        """
        CREATE TABLE guild_settings (
            guild_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
            PRIMARY KEY (guild_id, key)
        )
        """,
    )
]


class SettingError(UserFacingError, ValueError):
    """An unknown key or a value that does not parse; the message says what is expected."""


@dataclass(frozen=True)
class GuildConfig:
    ask_channels: tuple[int, ...] = ()  # channels (text or forum) where questions auto-answer
    mod_roles: tuple[int, ...] = ()
    review_channel: int | None = None
    log_channel: int | None = None
    showcase_channel: int | None = None
    auto_answer: bool = False
    auto_answer_min_confidence: float = 0.75
    user_cooldown_seconds: int = 30
    guild_questions_per_minute: int = 20
    mod_quiet_minutes: int = 30  # the bot stays quiet in a thread after a mod replies
    creator_roles: tuple[int, ...] = ()  # who may submit clips (default: the mod roles)
    streamer_role: int | None = None
    approvals_required: int = 1
    streamer_can_veto: bool = True
    twitch_requests_channel: int | None = None  # where Twitch cameo request cards go
    written_answers: bool = False  # a language model writes answers (when the bot has one)
    written_monthly_tokens: int = 500_000  # the model's tokens a month, prompt and completion

    def is_mod(self, role_ids: set[int], *, administrator: bool) -> bool:
        return administrator or bool(role_ids & set(self.mod_roles))

    def can_submit_clips(self, role_ids: set[int], *, administrator: bool) -> bool:
        allowed = set(self.creator_roles or self.mod_roles)
        return administrator or bool(role_ids & allowed)


KEYS: dict[str, str] = {
    "ask_channels": "channel ids where questions are answered automatically (comma-separated)",
    "mod_roles": "role ids of moderators (comma-separated)",
    "review_channel": "channel id where clip review cards are posted",
    "log_channel": "channel id for mod notifications",
    "showcase_channel": "channel id where approved clips are shown",
    "auto_answer": "answer new questions in ask channels automatically (on/off)",
    "auto_answer_min_confidence": "confidence (0-1) an auto-answer needs",
    "user_cooldown_seconds": "seconds a member waits between questions",
    "guild_questions_per_minute": "questions the whole server may ask per minute",
    "mod_quiet_minutes": "minutes the bot stays quiet in a thread after a mod replies",
    "creator_roles": "role ids that may submit clips (default: the mod roles)",
    "streamer_role": "role id of the streamer (may veto clips)",
    "approvals_required": "approvals a clip needs",
    "streamer_can_veto": "whether the streamer's rejection is final (on/off)",
    "twitch_requests_channel": "channel id where Twitch cameo request cards are posted",
    "written_answers": "a language model writes answers from the notes (on/off)",
    "written_monthly_tokens": "the language model's tokens a month for written answers",
}
_TYPES = {f.name: f.type for f in fields(GuildConfig)}


def parse_value(key: str, raw: str) -> Any:
    """Parse a value typed on the command line or in Discord into the setting's type."""
    if key not in KEYS:
        raise SettingError(f"unknown setting {key!r}; known settings: {', '.join(KEYS)}")
    kind = _TYPES[key]
    raw = raw.strip()
    try:
        if kind == "bool":
            lowered = raw.lower()
            if lowered in ("on", "true", "yes", "1"):
                return True
            if lowered in ("off", "false", "no", "0"):
                return False
            raise ValueError
        if kind == "int":
            return int(raw)
        if kind == "float":
            value = float(raw)
            if not 0.0 <= value <= 1.0:
                raise ValueError
            return value
        if kind == "int | None":
            return None if raw.lower() in ("", "none", "off") else int(raw.strip("<#@&>"))
        if kind == "tuple[int, ...]":
            parts = [p.strip().strip("<#@&>") for p in raw.replace(" ", ",").split(",")]
            return tuple(int(p) for p in parts if p)
        if kind == "tuple[str, ...]":
            return tuple(p.strip() for p in raw.split(",") if p.strip())
    except ValueError:
        raise SettingError(f"{raw!r} is not a valid value for {key}: {KEYS[key]}") from None
    raise SettingError(f"setting {key!r} has an unsupported type {kind}")


class GuildConfigStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("guild_settings", MIGRATIONS)

    async def get(self, guild_id: int) -> GuildConfig:
        rows = await self.db.fetchall(
            "SELECT key, value FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        values: dict[str, Any] = {}
        for row in rows:
            if row["key"] in KEYS:
                value = json.loads(row["value"])
                values[row["key"]] = tuple(value) if isinstance(value, list) else value
        return replace(GuildConfig(), **values)

    async def set(self, guild_id: int, key: str, value: Any) -> GuildConfig:
        if key not in KEYS:
            raise SettingError(f"unknown setting {key!r}; known settings: {', '.join(KEYS)}")
        if isinstance(value, str) and _TYPES[key] != "str":
            value = parse_value(key, value)
        await self.db.execute(
            "INSERT INTO guild_settings(guild_id, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT(guild_id, key) DO UPDATE SET value = excluded.value,"
            " updated_at = (julianday('now') - 2440587.5) * 86400.0",
            (guild_id, key, json.dumps(list(value) if isinstance(value, tuple) else value)),
        )
        return await self.get(guild_id)

    async def update(self, guild_id: int, **values: Any) -> GuildConfig:
        for key, value in values.items():
            await self.set(guild_id, key, value)
        return await self.get(guild_id)


def describe(config: GuildConfig) -> list[tuple[str, str]]:
    """(key, shown value) pairs for status displays."""
    shown = []
    for key in KEYS:
        value = getattr(config, key)
        if isinstance(value, bool):
            text = "on" if value else "off"
        elif isinstance(value, tuple):
            text = ", ".join(str(v) for v in value) or "(none)"
        elif value is None:
            text = "(not set)"
        else:
            text = str(value)
        shown.append((key, text))
    return shown

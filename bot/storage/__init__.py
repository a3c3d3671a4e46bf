"""SQLite storage shared by the bot's features (no discord import)."""

from bot.storage.database import Database, Migration

__all__ = ["Database", "Migration"]

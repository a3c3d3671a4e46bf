"""Each guild's use of the language model for written answers, by calendar month (UTC).

The monthly token budget (`written_monthly_tokens`) is checked against this before a question
goes to the model; `/greenroom status` shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.storage import Database, Migration
from knowledge.written import FAILED, REJECTED, Written

MIGRATIONS = [
    Migration(
        1,
        """
        CREATE TABLE written_usage (
            guild_id INTEGER NOT NULL,
            month TEXT NOT NULL,                        -- 'YYYY-MM', UTC
            calls INTEGER NOT NULL DEFAULT 0,           -- questions sent to the model
            failures INTEGER NOT NULL DEFAULT 0,        -- no usable reply: extractive shown
            rejected INTEGER NOT NULL DEFAULT 0,        -- a reply that failed our checks
            over_budget INTEGER NOT NULL DEFAULT 0,     -- not sent: the budget was used up
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (guild_id, month)
        )
        """,
    )
]


@dataclass(frozen=True)
class MonthUsage:
    month: str
    calls: int = 0
    failures: int = 0
    rejected: int = 0
    over_budget: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class WrittenUsage:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def migrate(self) -> None:
        await self.db.migrate("written_usage", MIGRATIONS)

    def month(self) -> str:
        return time.strftime("%Y-%m", time.gmtime(self.clock()))

    async def get(self, guild_id: int, month: str | None = None) -> MonthUsage:
        month = month or self.month()
        row = await self.db.fetchone(
            "SELECT calls, failures, rejected, over_budget, prompt_tokens, completion_tokens"
            " FROM written_usage WHERE guild_id = ? AND month = ?",
            (guild_id, month),
        )
        return MonthUsage(month, *row) if row else MonthUsage(month)

    async def record(self, guild_id: int, written: Written) -> None:
        """Count one question the model was asked, whatever became of it."""
        if not written.called:
            return
        await self._add(
            guild_id,
            calls=1,
            failures=int(written.outcome == FAILED),
            rejected=int(written.outcome == REJECTED),
            prompt_tokens=written.usage.prompt_tokens,
            completion_tokens=written.usage.completion_tokens,
        )

    async def over_budget(self, guild_id: int) -> None:
        """Count a question that was not sent because the month's budget was used up."""
        await self._add(guild_id, over_budget=1)

    async def _add(self, guild_id: int, **counts: int) -> None:
        columns = ", ".join(counts)
        updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in counts)
        await self.db.execute(
            f"INSERT INTO written_usage(guild_id, month, {columns})"
            f" VALUES (?, ?, {', '.join('?' for _ in counts)})"
            f" ON CONFLICT(guild_id, month) DO UPDATE SET {updates}",
            (guild_id, self.month(), *counts.values()),
        )

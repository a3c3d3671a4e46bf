"""Each guild's word lists for the pre-flight checks: franchise edits and sponsor/brand names.

The franchise list is the default list plus the guild's additions minus its removals, so an
update of the default list still reaches every guild.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.clips.errors import InvalidTerm
from bot.clips.schema import ensure_clip_schema
from bot.clips.terms import DEFAULT_FRANCHISE_TERMS, normalize_term
from bot.storage import Database

MAX_TERM_LENGTH = 100


@dataclass(frozen=True)
class FranchiseOverrides:
    added: list[str]
    removed: list[str]  # default terms this guild switched off


class GuildTermStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    @classmethod
    async def open(cls, db: Database, *, clock: Callable[[], float] = time.time) -> GuildTermStore:
        await ensure_clip_schema(db)
        return cls(db, clock=clock)

    async def franchise_terms(self, guild_id: int) -> list[str]:
        """The list `run_preflight` should use for this guild."""
        overrides = await self.franchise_overrides(guild_id)
        removed = {normalize_term(t) for t in overrides.removed}
        terms = [t for t in DEFAULT_FRANCHISE_TERMS if normalize_term(t) not in removed]
        return terms + overrides.added

    async def franchise_overrides(self, guild_id: int) -> FranchiseOverrides:
        rows = await self.db.fetchall(
            "SELECT term, mode FROM clip_franchise_overrides WHERE guild_id = ? ORDER BY rowid",
            (guild_id,),
        )
        return FranchiseOverrides(
            added=[r["term"] for r in rows if r["mode"] == "add"],
            removed=[r["term"] for r in rows if r["mode"] == "remove"],
        )

    async def add_franchise_term(self, guild_id: int, term: str, actor_id: int) -> None:
        """Flag `term` in this guild (or switch a removed default back on)."""
        term, key = _checked(term)
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM clip_franchise_overrides WHERE guild_id = ? AND normalized = ?",
                (guild_id, key),
            )
            if key not in _DEFAULT_KEYS:
                await conn.execute(
                    "INSERT INTO clip_franchise_overrides"
                    " (guild_id, normalized, term, mode, actor_id, at)"
                    " VALUES (?, ?, ?, 'add', ?, ?)",
                    (guild_id, key, term, actor_id, self._clock()),
                )

    async def remove_franchise_term(self, guild_id: int, term: str, actor_id: int) -> None:
        """Stop flagging `term` in this guild, whether it was a default or a guild addition."""
        term, key = _checked(term)
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM clip_franchise_overrides WHERE guild_id = ? AND normalized = ?",
                (guild_id, key),
            )
            if key in _DEFAULT_KEYS:
                await conn.execute(
                    "INSERT INTO clip_franchise_overrides"
                    " (guild_id, normalized, term, mode, actor_id, at)"
                    " VALUES (?, ?, ?, 'remove', ?, ?)",
                    (guild_id, key, _DEFAULT_KEYS[key], actor_id, self._clock()),
                )

    async def brand_terms(self, guild_id: int) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT term FROM clip_brand_terms WHERE guild_id = ? ORDER BY rowid", (guild_id,)
        )
        return [r["term"] for r in rows]

    async def add_brand_term(self, guild_id: int, term: str, actor_id: int) -> None:
        term, key = _checked(term)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO clip_brand_terms (guild_id, normalized, term, actor_id, at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(guild_id, normalized) DO UPDATE"
                " SET term = excluded.term",
                (guild_id, key, term, actor_id, self._clock()),
            )

    async def remove_brand_term(self, guild_id: int, term: str) -> bool:
        _, key = _checked(term)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM clip_brand_terms WHERE guild_id = ? AND normalized = ?",
                (guild_id, key),
            )
            return cur.rowcount > 0


_DEFAULT_KEYS = {normalize_term(t): t for t in DEFAULT_FRANCHISE_TERMS}


def _checked(term: str) -> tuple[str, str]:
    term = " ".join(term.split())
    key = normalize_term(term)
    if not key or len(term) > MAX_TERM_LENGTH:
        raise InvalidTerm(MAX_TERM_LENGTH)
    return term, key

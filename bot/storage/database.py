"""One SQLite database for the bot: async access, WAL mode, per-component schema migrations.

Each feature owns its tables and migrates them under its own component name, so features can
grow their schema independently: `await db.migrate("clips", CLIPS_MIGRATIONS)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    sql: str  # one or more statements, run in one transaction


class Database:
    """A single aiosqlite connection in WAL mode; writes are serialised by SQLite itself."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # All tasks share one connection: a transaction must not interleave with another
        # task's writes (they would join it), so transactions and writes take turns.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)  # we manage transactions
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions ("
            " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        return cls(conn, path)

    async def close(self) -> None:
        await self.conn.close()

    async def schema_version(self, component: str) -> int:
        async with self.conn.execute(
            "SELECT version FROM schema_versions WHERE component = ?", (component,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Apply the migrations of `component` newer than its recorded version, each atomically."""
        current = await self.schema_version(component)
        versions = [m.version for m in migrations]
        if versions != sorted(set(versions)):
            raise ValueError(f"migrations of {component!r} must have increasing versions")
        for migration in migrations:
            if migration.version <= current:
                continue
            async with self.transaction():
                for statement in _statements(migration.sql):
                    await self.conn.execute(statement)
                await self.conn.execute(
                    "INSERT INTO schema_versions(component, version) VALUES (?, ?)"
                    " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, migration.version),
                )
            log.info("migrated %s to schema version %d", component, migration.version)
            current = migration.version
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: the write lock comes first, so read-check-write is safe."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement in autocommit mode (never inside `transaction()`); last row id."""
        async with self._write_lock, self.conn.execute(sql, params) as cur:
            return cur.lastrowid or 0


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]

"""One SQLite database for the bot: async access, WAL mode, per-component schema migrations.

Each feature owns its tables and migrates them under its own component name, so features can
grow their schema independently: `await db.migrate("clips", CLIPS_MIGRATIONS)`. The file's own
layout (the `schema_versions` table that holds those versions) is `PRAGMA user_version`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

# PRAGMA user_version of the bot's database: 1 = per-component versions in `schema_versions`.
# A database made before it was set (0) has the same layout and is stamped on open.
FILE_VERSION = 1


@dataclass(frozen=True)
class Migration:
    version: int
    sql: str  # one or more statements (triggers included), run in one transaction


class Database:
    """A single aiosqlite connection in WAL mode, shared by all tasks.

    `transaction()` and `execute()` take this Database's write lock, so one task's transaction
    never interleaves with another task's writes; callers need no lock of their own.
    """

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
        try:
            await _prepare(conn, path)
        except BaseException:
            await conn.close()
            raise
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
        """Apply the migrations of `component` newer than its recorded version, each atomically.

        The version is read again inside each migration's transaction, so two tasks (or two
        processes) migrating the same component at once apply each migration once.
        """
        versions = [m.version for m in migrations]
        if versions != sorted(set(versions)):
            raise ValueError(f"migrations of {component!r} must have increasing versions")
        current = await self.schema_version(component)
        for migration in migrations:
            if migration.version <= current:
                continue
            async with self.transaction():
                current = await self.schema_version(component)
                if migration.version <= current:
                    continue
                for statement in sql_statements(migration.sql):
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


async def _prepare(conn: aiosqlite.Connection, path: Path) -> None:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    if version > FILE_VERSION:
        raise RuntimeError(
            f"{path} has database version {version}, newer than this Greenroom knows"
            f" ({FILE_VERSION}); run a newer Greenroom or restore a backup"
        )
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions ("
        " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    if version < FILE_VERSION:
        await conn.execute(f"PRAGMA user_version = {FILE_VERSION}")


def sql_statements(sql: str) -> list[str]:
    """Split a script into whole statements: a `;` inside a trigger's BEGIN ... END, a string
    or a comment does not end one (SQLite's own `complete_statement` decides)."""
    statements: list[str] = []
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _has_code(pending):
                statements.append(pending.strip())
            pending = ""
    if _has_code(pending.removesuffix(";")):
        statements.append(pending.removesuffix(";").strip())
    return statements


def _has_code(sql: str) -> bool:
    """False for text that is only whitespace, comments and semicolons."""
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL)
    return bool(without_comments.strip().strip(";").strip())

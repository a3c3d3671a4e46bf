"""Every SQLite file carries PRAGMA user_version, and a file made before it was set upgrades
in place: data kept, version stamped, triggers present (tests/fixtures/*_unversioned.sql hold
the schema as Greenroom made it then)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import knowledge.catalog as catalog_module
from bot.clips.guild_terms import GuildTermStore
from bot.clips.review import ReviewQueue
from bot.clips.schema import CLIPS_MIGRATIONS
from bot.guild_config import GuildConfigStore
from bot.question_log import QuestionLog
from bot.storage import Database
from bot.storage.database import FILE_VERSION, sql_statements
from bot.twitch.requests import MIGRATIONS as TWITCH_MIGRATIONS
from bot.twitch.requests import RequestStore
from bot.written_usage import WrittenUsage
from knowledge.catalog import SCHEMA_VERSION, Catalog, CatalogVersionError

FIXTURES = Path(__file__).parent / "fixtures"
GUILD = 7


def _make(path: Path, fixture: str, *inserts: str) -> None:
    """A file as the old code left it: its schema, some rows, user_version never set."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript((FIXTURES / fixture).read_text(encoding="utf-8"))
        for sql in inserts:
            conn.execute(sql)
        conn.commit()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    finally:
        conn.close()


def _schema(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute("SELECT type, name FROM sqlite_master"))
    finally:
        conn.close()


def _triggers(path: Path) -> set[str]:
    return {name for kind, name in _schema(path) if kind == "trigger"}


async def _open_bot_database(path: Path) -> Database:
    """What Services.open does to the bot's database."""
    db = await Database.open(path)
    await ReviewQueue.open(db)
    await GuildTermStore.open(db)
    await RequestStore.open(db)
    await GuildConfigStore(db).migrate()
    await QuestionLog(db).migrate()
    await WrittenUsage(db).migrate()
    return db


async def test_a_bot_database_made_before_versions_upgrades_in_place(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old.sqlite3", tmp_path / "fresh.sqlite3"
    _make(
        old,
        "bot_database_unversioned.sql",
        "INSERT INTO clips(guild_id, submitter_id, status, title, created_at, updated_at)"
        f" VALUES ({GUILD}, 11, 'submitted', 'Frog cameo', 1.0, 1.0)",
        "INSERT INTO clip_audit(clip_id, guild_id, actor_id, action, to_state, at)"
        f" VALUES (1, {GUILD}, 11, 'submit', 'submitted', 1.0)",
    )
    triggers_before = _triggers(old)
    assert len(triggers_before) == 9  # six for the clips, three for the Twitch audit

    db = await _open_bot_database(old)
    try:
        queue = await ReviewQueue.open(db)
        clip = await queue.get(1, GUILD)
        assert clip is not None and clip.title == "Frog cameo"
        assert (await db.fetchone("PRAGMA user_version"))[0] == FILE_VERSION
        assert await db.schema_version("clips") == CLIPS_MIGRATIONS[-1].version
        assert await db.schema_version("twitch") == TWITCH_MIGRATIONS[-1].version
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await db.execute("DELETE FROM clip_audit")
    finally:
        await db.close()
    assert _triggers(old) == triggers_before

    await (await _open_bot_database(fresh)).close()
    assert _schema(fresh) == _schema(old)  # the triggers now come from the migrations alone


async def test_a_bot_database_from_a_newer_greenroom_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {FILE_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this Greenroom knows"):
        await Database.open(path)


def test_statements_are_split_where_sqlite_says_they_end() -> None:
    script = """
        CREATE TABLE t (v TEXT DEFAULT 'a;b');  -- a comment; with a semicolon
        CREATE TRIGGER t_no_delete BEFORE DELETE ON t BEGIN
            SELECT RAISE(ABORT, 'no;');
            SELECT 1;
        END;
        /* a closing comment; */
        INSERT INTO t VALUES ('x')
    """
    statements = sql_statements(script)
    assert len(statements) == 3
    assert "CREATE TRIGGER" in statements[1] and statements[1].endswith("END;")
    conn = sqlite3.connect(":memory:")
    for statement in statements:
        conn.execute(statement)  # one statement each, or sqlite3 refuses it
    with pytest.raises(sqlite3.IntegrityError, match="no;"):
        conn.execute("DELETE FROM t")
    conn.close()


def test_a_catalog_made_before_versions_upgrades_in_place(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old" / "catalog.sqlite3", tmp_path / "fresh" / "catalog.sqlite3"
    old.parent.mkdir()
    _make(
        old,
        "catalog_unversioned.sql",
        "INSERT INTO documents(doc_id, source, title, content_hash, chunk_count)"
        " VALUES ('frog.md', 'notes', 'Frogs', 'h1', 1)",
        "INSERT INTO chunks(chunk_id, doc_id, idx, heading, prefix, text, start, end)"
        " VALUES ('frog.md#0', 'frog.md', 0, '', 'Frogs', 'the frog cameo costs 300', 0, 24)",
    )
    triggers_before = _triggers(old)
    assert triggers_before == {"chunks_ai", "chunks_ad", "learned_doc_changed"}

    catalog = Catalog(old)
    try:
        assert catalog.schema_version() == SCHEMA_VERSION
        assert set(catalog.documents()) == {"frog.md"}
        assert [chunk for chunk, _ in catalog.lexical_search("frog cameo", 5)] == ["frog.md#0"]
    finally:
        catalog.close()
    Catalog(old).close()  # opening again changes nothing
    assert _triggers(old) == triggers_before

    Catalog(fresh).close()
    assert _schema(fresh) == _schema(old)


def test_a_catalog_from_a_newer_greenroom_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {catalog_module.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CatalogVersionError):
        Catalog(path)

"""The clips component's tables and triggers, as migrations of the bot's database."""

from __future__ import annotations

from bot.clips.states import ClipStatus
from bot.storage import Database, Migration

_STATUSES = ", ".join(f"'{status}'" for status in ClipStatus)

# The audit trail and the decisions are append-only. Migration 2 creates the triggers with
# IF NOT EXISTS: before it, they were created on every open outside the migrations, so a database
# made then already has some or all of them.
_APPEND_ONLY_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in ("clip_audit", "clip_decisions")
    for op in ("UPDATE", "DELETE")
]
# INSERT OR REPLACE deletes the row it collides with, and that delete fires no DELETE trigger
# (unless recursive_triggers is on), so a collision is refused before the insert. A collision
# is the same id or, for decisions, a second approval by the same mod in the same round.
_COLLIDES = {
    "clip_audit": "EXISTS (SELECT 1 FROM clip_audit WHERE id = NEW.id)",
    "clip_decisions": "EXISTS (SELECT 1 FROM clip_decisions WHERE id = NEW.id) OR"
    " (NEW.action = 'approve' AND EXISTS (SELECT 1 FROM clip_decisions WHERE"
    " clip_id = NEW.clip_id AND review_round = NEW.review_round AND actor_id = NEW.actor_id"
    " AND action = 'approve'))",
}
_APPEND_ONLY_TRIGGERS += [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
    f"WHEN {collides} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table, collides in _COLLIDES.items()
]

CLIPS_MIGRATIONS = [
    Migration(
        1,
        f"""
        CREATE TABLE clips (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id INTEGER NOT NULL,
            submitter_id INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            parent_id INTEGER REFERENCES clips(id),
            status TEXT NOT NULL CHECK (status IN ({_STATUSES})),
            review_round INTEGER NOT NULL DEFAULT 1,
            title TEXT NOT NULL,
            prompt TEXT NOT NULL DEFAULT '',
            tool TEXT NOT NULL DEFAULT '',
            use TEXT NOT NULL DEFAULT '',
            notes TEXT NOT NULL DEFAULT '',
            settings_json TEXT NOT NULL DEFAULT '{{}}',
            sha256 TEXT,
            file_ext TEXT,
            source_url TEXT,
            fingerprint_json TEXT,
            video_json TEXT,
            preflight_json TEXT NOT NULL DEFAULT '[]',
            secret INTEGER NOT NULL DEFAULT 0,
            card_channel_id INTEGER,
            card_message_id INTEGER,
            thread_id INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX clips_by_guild_status ON clips(guild_id, status, id);
        CREATE INDEX clips_by_guild_submitter ON clips(guild_id, submitter_id, id);
        CREATE INDEX clips_by_guild_sha256 ON clips(guild_id, sha256);
        CREATE UNIQUE INDEX clips_one_row_per_version ON clips(COALESCE(parent_id, id), version);

        CREATE TABLE clip_decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            clip_id INTEGER NOT NULL REFERENCES clips(id),
            guild_id INTEGER NOT NULL,
            actor_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            checklist_json TEXT NOT NULL DEFAULT '{{}}',
            review_round INTEGER NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX clip_decisions_by_clip ON clip_decisions(clip_id, review_round);
        CREATE INDEX clip_decisions_by_guild ON clip_decisions(guild_id, actor_id);
        CREATE UNIQUE INDEX clip_decisions_one_approval_per_mod
            ON clip_decisions(clip_id, review_round, actor_id) WHERE action = 'approve';

        CREATE TABLE clip_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            clip_id INTEGER NOT NULL REFERENCES clips(id),
            guild_id INTEGER NOT NULL,
            actor_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            checklist_json TEXT,
            at REAL NOT NULL
        );
        CREATE INDEX clip_audit_by_clip ON clip_audit(clip_id, id);
        CREATE INDEX clip_audit_by_guild_actor ON clip_audit(guild_id, actor_id, id);

        CREATE TABLE clip_franchise_overrides (
            guild_id INTEGER NOT NULL,
            normalized TEXT NOT NULL,
            term TEXT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('add', 'remove')),
            actor_id INTEGER NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (guild_id, normalized)
        );

        CREATE TABLE clip_brand_terms (
            guild_id INTEGER NOT NULL,
            normalized TEXT NOT NULL,
            term TEXT NOT NULL,
            actor_id INTEGER NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (guild_id, normalized)
        )
        """,
    ),
    Migration(2, ";\n".join(_APPEND_ONLY_TRIGGERS)),
]


async def ensure_clip_schema(db: Database) -> None:
    """Create or upgrade the clips tables and their append-only triggers; safe to call again."""
    await db.migrate("clips", CLIPS_MIGRATIONS)

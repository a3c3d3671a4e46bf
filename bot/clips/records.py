"""SQL rows of the clips tables to values and back: the inserts and the row readers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiosqlite

from bot.clips.models import AuditEntry, Checklist, Clip, ClipDraft, Decision
from bot.clips.preflight import Check
from bot.clips.probe import VideoInfo
from bot.clips.states import DECISION_ACTIONS, START, ClipStatus, ReviewAction


async def insert_clip(
    conn: aiosqlite.Connection,
    guild_id: int,
    submitter_id: int,
    draft: ClipDraft,
    version: int,
    parent_id: int | None,
    now: float,
) -> int:
    cur = await conn.execute(
        "INSERT INTO clips (guild_id, submitter_id, version, parent_id, status, title, prompt,"
        " tool, use, notes, settings_json, sha256, file_ext, source_url, fingerprint_json,"
        " video_json, preflight_json, secret, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            guild_id,
            submitter_id,
            version,
            parent_id,
            START,
            draft.title,
            draft.prompt,
            draft.tool,
            draft.use,
            draft.notes,
            json.dumps(dict(draft.settings), sort_keys=True, default=str),
            draft.sha256.lower() if draft.sha256 else None,
            draft.file_ext,
            draft.source_url,
            json.dumps(list(draft.fingerprint)) if draft.fingerprint else None,
            json.dumps(draft.video.to_dict()) if draft.video else None,
            json.dumps([c.to_dict() for c in draft.preflight]),
            int(draft.secret),
            now,
            now,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def insert_decision(
    conn: aiosqlite.Connection,
    clip: Clip,
    actor_id: int,
    action: ReviewAction,
    reason: str,
    checklist: Checklist,
    now: float,
) -> None:
    assert action in DECISION_ACTIONS
    await conn.execute(
        "INSERT INTO clip_decisions (clip_id, guild_id, actor_id, action, reason, checklist_json,"
        " review_round, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            clip.id,
            clip.guild_id,
            actor_id,
            action,
            reason,
            json.dumps(checklist.to_dict()),
            clip.review_round,
            now,
        ),
    )


async def append_audit(
    conn: aiosqlite.Connection,
    clip_id: int,
    guild_id: int,
    actor_id: int,
    action: ReviewAction,
    from_state: ClipStatus | None,
    to_state: ClipStatus,
    reason: str,
    checklist: Checklist | None,
    now: float,
) -> None:
    await conn.execute(
        "INSERT INTO clip_audit (clip_id, guild_id, actor_id, action, from_state, to_state,"
        " reason, checklist_json, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            clip_id,
            guild_id,
            actor_id,
            action,
            from_state,
            to_state,
            reason,
            json.dumps(checklist.to_dict()) if checklist else None,
            now,
        ),
    )


def clip_from_row(row: Mapping[str, Any]) -> Clip:
    return Clip(
        id=row["id"],
        guild_id=row["guild_id"],
        submitter_id=row["submitter_id"],
        version=row["version"],
        parent_id=row["parent_id"],
        status=ClipStatus(row["status"]),
        review_round=row["review_round"],
        title=row["title"],
        prompt=row["prompt"],
        tool=row["tool"],
        use=row["use"],
        notes=row["notes"],
        settings=json.loads(row["settings_json"]),
        sha256=row["sha256"],
        file_ext=row["file_ext"],
        source_url=row["source_url"],
        fingerprint=tuple(json.loads(row["fingerprint_json"] or "[]")),
        video=VideoInfo.from_dict(json.loads(row["video_json"])) if row["video_json"] else None,
        preflight=tuple(Check.from_dict(c) for c in json.loads(row["preflight_json"])),
        secret=bool(row["secret"]),
        card_channel_id=row["card_channel_id"],
        card_message_id=row["card_message_id"],
        thread_id=row["thread_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def audit_from_row(row: Mapping[str, Any]) -> AuditEntry:
    checklist = row["checklist_json"]
    return AuditEntry(
        id=row["id"],
        clip_id=row["clip_id"],
        guild_id=row["guild_id"],
        actor_id=row["actor_id"],
        action=row["action"],
        from_state=ClipStatus(row["from_state"]) if row["from_state"] else None,
        to_state=ClipStatus(row["to_state"]),
        reason=row["reason"],
        checklist=Checklist.from_dict(json.loads(checklist)) if checklist else None,
        at=row["at"],
    )


def decision_from_row(row: Mapping[str, Any]) -> Decision:
    return Decision(
        id=row["id"],
        clip_id=row["clip_id"],
        guild_id=row["guild_id"],
        actor_id=row["actor_id"],
        action=row["action"],
        reason=row["reason"],
        checklist=Checklist.from_dict(json.loads(row["checklist_json"])),
        review_round=row["review_round"],
        at=row["at"],
    )

"""The clip review queue: submissions, mod decisions and their audit trail, in SQLite.

Every state change is one transaction that checks the state it starts from, writes the new
state and appends its audit row, so two mods clicking at once produce one decision (the other
gets `AlreadyDecided`) and a crash loses either the whole decision or nothing.
Refusals are computed inside the transaction but raised after it commits nothing, so a refused
click never rolls back anything else written on the shared connection meanwhile.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import aiosqlite

from bot.clips import records
from bot.clips.errors import (
    AlreadyDecided,
    ChecklistContradiction,
    ClipNotFound,
    DuplicateApproval,
    IllegalTransition,
    InvalidDraft,
    NotSubmitter,
    ReasonRequired,
    ReviewError,
    SelfApproval,
)
from bot.clips.fingerprint import NEAR_DUPLICATE_THRESHOLD, fingerprint_distance
from bot.clips.models import (
    AuditEntry,
    Checklist,
    Clip,
    ClipDraft,
    ClipStats,
    Decision,
    DecisionOutcome,
    ReviewPolicy,
)
from bot.clips.preflight import DuplicateMatch
from bot.clips.schema import ensure_clip_schema
from bot.clips.states import (
    DECIDED_STATUSES,
    DECISION_ACTIONS,
    QUEUE_STATUSES,
    REASON_REQUIRED,
    START,
    ClipStatus,
    ReviewAction,
    allows,
    is_legal,
    leads_to,
    refusal_text,
)
from bot.storage import Database

T = TypeVar("T")
A = ReviewAction
S = ClipStatus

StatusFilter = ClipStatus | str | Iterable[ClipStatus | str] | None


class ReviewQueue:
    """Every guild's clips and their reviews; each call is scoped to one guild."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    @classmethod
    async def open(cls, db: Database, *, clock: Callable[[], float] = time.time) -> ReviewQueue:
        """Migrate the clips tables (idempotent) and return the queue."""
        await ensure_clip_schema(db)
        return cls(db, clock=clock)

    # --- submitting --------------------------------------------------------------------------

    async def submit(self, guild_id: int, submitter_id: int, draft: ClipDraft) -> Clip:
        draft = _checked_draft(draft)

        async def write(conn: aiosqlite.Connection) -> Clip:
            now = self._clock()
            clip_id = await records.insert_clip(conn, guild_id, submitter_id, draft, 1, None, now)
            await records.append_audit(
                conn, clip_id, guild_id, submitter_id, A.SUBMIT, None, START, "", None, now
            )
            return await self._require(clip_id, guild_id)

        return await self._write(write)

    async def resubmit(self, clip_id: int, guild_id: int, actor_id: int, draft: ClipDraft) -> Clip:
        """Version N+1 of a rejected or sent-back clip; the old version becomes superseded."""
        draft = _checked_draft(draft)

        async def write(conn: aiosqlite.Connection) -> Clip | ReviewError:
            old = await self._find(clip_id, guild_id)
            if old is None:
                return ClipNotFound(clip_id)
            if actor_id != old.submitter_id:
                return NotSubmitter(clip_id)
            if refused := await self.refusal(old, A.RESUBMIT):
                return refused
            now = self._clock()
            version = (await self._newest_version(old.root_id)).version + 1
            new_id = await records.insert_clip(
                conn, guild_id, actor_id, draft, version, old.root_id, now
            )
            await records.append_audit(
                conn,
                new_id,
                guild_id,
                actor_id,
                A.SUBMIT,
                None,
                START,
                f"version {version} of #{old.root_id}",
                None,
                now,
            )
            await self._move(
                conn,
                old,
                A.RESUBMIT,
                _target(old.status, A.RESUBMIT),
                actor_id,
                f"replaced by #{new_id} (version {version})",
                None,
                now,
            )
            return await self._require(new_id, guild_id)

        return await self._write(write)

    # --- reviewing ---------------------------------------------------------------------------

    async def claim(self, clip_id: int, guild_id: int, actor_id: int) -> Clip:
        """A mod opened the clip: submitted -> in_review; in any other state nothing changes."""

        async def write(conn: aiosqlite.Connection) -> Clip | ReviewError:
            clip = await self._find(clip_id, guild_id)
            if clip is None:
                return ClipNotFound(clip_id)
            if not allows(clip.status, A.CLAIM) or actor_id == clip.submitter_id:
                return clip
            target = _target(clip.status, A.CLAIM)
            now = self._clock()
            return await self._move(conn, clip, A.CLAIM, target, actor_id, "", None, now)

        return await self._write(write)

    async def approve(
        self,
        clip_id: int,
        guild_id: int,
        actor_id: int,
        *,
        policy: ReviewPolicy | None = None,
        checklist: Checklist | None = None,
        note: str = "",
    ) -> DecisionOutcome:
        """Count one mod's approval; the clip is approved once the guild's quorum is reached."""
        policy = policy or ReviewPolicy()
        checklist = checklist or Checklist()
        if failed := checklist.failed():
            raise ChecklistContradiction(failed)

        async def write(conn: aiosqlite.Connection) -> DecisionOutcome | ReviewError:
            clip = await self._find(clip_id, guild_id)
            if clip is None:
                return ClipNotFound(clip_id)
            if actor_id == clip.submitter_id:
                return SelfApproval(clip_id)
            if refused := await self.refusal(clip, A.APPROVE):
                return refused
            approvers = await self._approvers(clip)
            if actor_id in approvers:
                return DuplicateApproval(
                    clip_id, max(1, policy.approvals_required - len(approvers))
                )
            approvers = (*approvers, actor_id)
            target = S.APPROVED if len(approvers) >= policy.approvals_required else S.IN_REVIEW
            now = self._clock()
            await records.insert_decision(
                conn, clip, actor_id, A.APPROVE, note.strip(), checklist, now
            )
            clip = await self._move(
                conn, clip, A.APPROVE, target, actor_id, note.strip(), checklist, now
            )
            return DecisionOutcome(clip, A.APPROVE, approvers, policy.approvals_required)

        return await self._write(write)

    async def reject(
        self,
        clip_id: int,
        guild_id: int,
        actor_id: int,
        reason: str,
        *,
        policy: ReviewPolicy | None = None,
        is_streamer: bool = False,
        checklist: Checklist | None = None,
    ) -> DecisionOutcome:
        """Reject at once; by the streamer under a veto policy it also overrides approvals."""
        policy = policy or ReviewPolicy()
        action = A.VETO if is_streamer and policy.streamer_role_can_veto else A.REJECT
        return await self._decide_against(
            clip_id, guild_id, actor_id, action, reason, checklist, policy
        )

    async def request_changes(
        self,
        clip_id: int,
        guild_id: int,
        actor_id: int,
        reason: str,
        *,
        policy: ReviewPolicy | None = None,
        checklist: Checklist | None = None,
    ) -> DecisionOutcome:
        return await self._decide_against(
            clip_id,
            guild_id,
            actor_id,
            A.REQUEST_CHANGES,
            reason,
            checklist,
            policy or ReviewPolicy(),
        )

    async def hold(
        self,
        clip_id: int,
        guild_id: int,
        actor_id: int,
        reason: str,
        *,
        policy: ReviewPolicy | None = None,
        checklist: Checklist | None = None,
    ) -> DecisionOutcome:
        return await self._decide_against(
            clip_id, guild_id, actor_id, A.HOLD, reason, checklist, policy or ReviewPolicy()
        )

    async def decide(
        self,
        action: ReviewAction | str,
        clip_id: int,
        guild_id: int,
        actor_id: int,
        reason: str = "",
        *,
        policy: ReviewPolicy | None = None,
        checklist: Checklist | None = None,
        is_streamer: bool = False,
    ) -> DecisionOutcome:
        """Any verdict by its action, as a card's button names it (`reason` is approve's note)."""
        action = ReviewAction(action)
        if action == A.APPROVE:
            return await self.approve(
                clip_id, guild_id, actor_id, policy=policy, checklist=checklist, note=reason
            )
        if action in (A.REJECT, A.VETO):  # the streamer's reject is a veto if the policy allows
            return await self.reject(
                clip_id,
                guild_id,
                actor_id,
                reason,
                policy=policy,
                is_streamer=is_streamer,
                checklist=checklist,
            )
        if action not in DECISION_ACTIONS:
            raise ValueError(f"{action} is not a decision")
        return await self._decide_against(
            clip_id, guild_id, actor_id, action, reason, checklist, policy or ReviewPolicy()
        )

    async def reopen(self, clip_id: int, guild_id: int, actor_id: int, reason: str) -> Clip:
        """Back to in_review with a fresh approval round; the only way to undo a decision."""
        reason = _required_reason(A.REOPEN, reason)

        async def write(conn: aiosqlite.Connection) -> Clip | ReviewError:
            clip = await self._find(clip_id, guild_id)
            if clip is None:
                return ClipNotFound(clip_id)
            if refused := await self.refusal(clip, A.REOPEN):
                return refused
            target = _target(clip.status, A.REOPEN)
            return await self._move(
                conn, clip, A.REOPEN, target, actor_id, reason, None, self._clock()
            )

        return await self._write(write)

    async def mark_published(self, clip_id: int, guild_id: int, actor_id: int) -> Clip:
        async def write(conn: aiosqlite.Connection) -> Clip | ReviewError:
            clip = await self._find(clip_id, guild_id)
            if clip is None:
                return ClipNotFound(clip_id)
            if refused := await self.refusal(clip, A.PUBLISH):
                return refused
            target = _target(clip.status, A.PUBLISH)
            now = self._clock()
            return await self._move(conn, clip, A.PUBLISH, target, actor_id, "", None, now)

        return await self._write(write)

    async def set_secret(self, clip_id: int, guild_id: int, actor_id: int, secret: bool) -> Clip:
        """Keep the recipe (prompt, settings, notes) out of the knowledge base; audited."""

        async def write(conn: aiosqlite.Connection) -> Clip | ReviewError:
            clip = await self._find(clip_id, guild_id)
            if clip is None:
                return ClipNotFound(clip_id)
            if clip.secret == secret:
                return clip
            now = self._clock()
            await conn.execute(
                "UPDATE clips SET secret = ?, updated_at = ? WHERE id = ?",
                (int(secret), now, clip_id),
            )
            reason = "recipe made secret" if secret else "recipe made shareable"
            await records.append_audit(
                conn,
                clip_id,
                guild_id,
                actor_id,
                A.SET_SECRET,
                clip.status,
                clip.status,
                reason,
                None,
                now,
            )
            return await self._require(clip_id, guild_id)

        return await self._write(write)

    async def set_card(
        self,
        clip_id: int,
        guild_id: int,
        *,
        channel_id: int | None,
        message_id: int | None,
        thread_id: int | None = None,
    ) -> Clip:
        """Remember where the clip's review card lives (not audited: it is not a review act)."""

        async def write(conn: aiosqlite.Connection) -> Clip | ReviewError:
            cur = await conn.execute(
                "UPDATE clips SET card_channel_id = ?, card_message_id = ?, thread_id = ?,"
                " updated_at = ? WHERE id = ? AND guild_id = ?",
                (channel_id, message_id, thread_id, self._clock(), clip_id, guild_id),
            )
            if cur.rowcount != 1:
                return ClipNotFound(clip_id)
            return await self._require(clip_id, guild_id)

        return await self._write(write)

    # --- reading -----------------------------------------------------------------------------

    async def get(self, clip_id: int, guild_id: int) -> Clip:
        """The clip, if it belongs to this guild; `ClipNotFound` otherwise."""
        return await self._require(clip_id, guild_id)

    async def queue(
        self,
        guild_id: int,
        *,
        status: StatusFilter = None,
        tool: str | None = None,
        use: str | None = None,
        submitter: int | None = None,
        limit: int = 25,
        offset: int = 0,
    ) -> list[Clip]:
        """Oldest first. `status=None` means waiting for mods: submitted, in_review and held."""
        statuses = status_values(status)
        where = ["guild_id = ?", f"status IN ({', '.join('?' * len(statuses))})"]
        params: list[Any] = [guild_id, *statuses]
        if tool is not None:
            where.append("tool = ? COLLATE NOCASE")
            params.append(tool)
        if use is not None:
            where.append("use = ?")
            params.append(use)
        if submitter is not None:
            where.append("submitter_id = ?")
            params.append(submitter)
        rows = await self.db.fetchall(
            f"SELECT * FROM clips WHERE {' AND '.join(where)} ORDER BY id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [records.clip_from_row(row) for row in rows]

    async def mine(
        self, guild_id: int, submitter_id: int, *, limit: int = 25, offset: int = 0
    ) -> list[Clip]:
        """A member's own clips, newest first, every state."""
        rows = await self.db.fetchall(
            "SELECT * FROM clips WHERE guild_id = ? AND submitter_id = ?"
            " ORDER BY id DESC LIMIT ? OFFSET ?",
            (guild_id, submitter_id, limit, offset),
        )
        return [records.clip_from_row(row) for row in rows]

    async def versions(self, clip_id: int, guild_id: int) -> list[Clip]:
        """Every version of the clip, first to newest."""
        clip = await self._require(clip_id, guild_id)
        rows = await self.db.fetchall(
            "SELECT * FROM clips WHERE COALESCE(parent_id, id) = ? ORDER BY version",
            (clip.root_id,),
        )
        return [records.clip_from_row(row) for row in rows]

    async def history(
        self, clip_id: int, guild_id: int, *, whole_family: bool = True
    ) -> list[AuditEntry]:
        """The audit trail, oldest first; by default of every version of the clip."""
        clip = await self._require(clip_id, guild_id)
        if whole_family:
            rows = await self.db.fetchall(
                "SELECT a.* FROM clip_audit a JOIN clips c ON c.id = a.clip_id"
                " WHERE COALESCE(c.parent_id, c.id) = ? ORDER BY a.id",
                (clip.root_id,),
            )
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM clip_audit WHERE clip_id = ? ORDER BY id", (clip_id,)
            )
        return [records.audit_from_row(row) for row in rows]

    async def decisions(self, clip_id: int, guild_id: int) -> list[Decision]:
        """Every decision on this version of the clip, all rounds, oldest first."""
        await self._require(clip_id, guild_id)
        rows = await self.db.fetchall(
            "SELECT * FROM clip_decisions WHERE clip_id = ? ORDER BY id", (clip_id,)
        )
        return [records.decision_from_row(row) for row in rows]

    async def approvers(self, clip_id: int, guild_id: int) -> tuple[int, ...]:
        """The mods whose approvals count now (the current review round)."""
        return await self._approvers(await self._require(clip_id, guild_id))

    async def log_for_user(
        self, guild_id: int, user_id: int, *, limit: int = 50
    ) -> list[AuditEntry]:
        """What the member did and what was done to their clips, newest first."""
        rows = await self.db.fetchall(
            "SELECT a.* FROM clip_audit a JOIN clips c ON c.id = a.clip_id"
            " WHERE a.guild_id = ? AND (a.actor_id = ? OR c.submitter_id = ?)"
            " ORDER BY a.id DESC LIMIT ?",
            (guild_id, user_id, user_id, limit),
        )
        return [records.audit_from_row(row) for row in rows]

    async def stats(self, guild_id: int) -> ClipStats:
        by_status = {
            row["status"]: row["n"]
            for row in await self.db.fetchall(
                "SELECT status, COUNT(*) AS n FROM clips WHERE guild_id = ? GROUP BY status",
                (guild_id,),
            )
        }
        decided = ", ".join(f"'{s}'" for s in sorted(DECIDED_STATUSES))
        waits = [
            row["first_at"] - row["created_at"]
            for row in await self.db.fetchall(
                "SELECT c.created_at, MIN(a.at) AS first_at FROM clips c"
                " JOIN clip_audit a ON a.clip_id = c.id"
                f" WHERE c.guild_id = ? AND a.to_state IN ({decided}) GROUP BY c.id",
                (guild_id,),
            )
        ]
        by_mod: dict[int, dict[str, int]] = {}
        for row in await self.db.fetchall(
            "SELECT actor_id, action, COUNT(*) AS n FROM clip_decisions WHERE guild_id = ?"
            " GROUP BY actor_id, action",
            (guild_id,),
        ):
            by_mod.setdefault(row["actor_id"], {})[row["action"]] = row["n"]
        return ClipStats(
            by_status=by_status,
            median_decision_s=statistics.median(waits) if waits else None,
            decisions_by_mod=by_mod,
        )

    async def search_ids(self, guild_id: int, prefix: str, *, limit: int = 25) -> list[Clip]:
        """Autocomplete, newest first: "#4" finds ids starting with 4; other text finds those
        ids too (when it is digits) and titles containing it."""
        typed = prefix.strip()
        ids_only = typed.startswith("#")
        text = typed.removeprefix("#").strip()
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self.db.fetchall(
            "SELECT * FROM clips WHERE guild_id = ? AND ("
            " CAST(id AS TEXT) LIKE ? || '%' ESCAPE '\\'"
            " OR (NOT ? AND title LIKE '%' || ? || '%' ESCAPE '\\'))"
            " ORDER BY id DESC LIMIT ?",
            (guild_id, pattern, ids_only, pattern, limit),
        )
        return [records.clip_from_row(row) for row in rows]

    async def find_duplicate(
        self, guild_id: int, sha256: str, *, exclude_family: int | None = None
    ) -> DuplicateMatch | None:
        """The earliest clip of this guild with exactly these bytes."""
        row = await self.db.fetchone(
            "SELECT id, status FROM clips WHERE guild_id = ? AND sha256 = ?"
            " AND COALESCE(parent_id, id) IS NOT ? ORDER BY id LIMIT 1",
            (guild_id, sha256.lower(), exclude_family),
        )
        if row is None:
            return None
        return DuplicateMatch(clip_id=row["id"], status=row["status"], distance=0.0, exact=True)

    async def find_near_duplicate(
        self,
        guild_id: int,
        fingerprint: Iterable[int],
        *,
        threshold: float = NEAR_DUPLICATE_THRESHOLD,
        exclude_family: int | None = None,
    ) -> DuplicateMatch | None:
        """The closest earlier clip of this guild that looks the same (re-encoded, resized)."""
        wanted = list(fingerprint)
        if not wanted:
            return None
        best: DuplicateMatch | None = None
        for row in await self.db.fetchall(
            "SELECT id, status, fingerprint_json FROM clips WHERE guild_id = ?"
            " AND fingerprint_json IS NOT NULL AND COALESCE(parent_id, id) IS NOT ? ORDER BY id",
            (guild_id, exclude_family),
        ):
            distance = fingerprint_distance(wanted, json.loads(row["fingerprint_json"]))
            if distance <= threshold and (best is None or distance < best.distance):
                best = DuplicateMatch(row["id"], row["status"], distance, exact=False)
        return best

    async def clips_with_status(
        self, guild_id: int | None, status: StatusFilter = S.APPROVED
    ) -> list[Clip]:
        """Every clip in these states, of one guild or (None) of all; oldest first. For exports."""
        statuses = status_values(status)
        marks = ", ".join("?" * len(statuses))
        if guild_id is None:
            sql, params = f"SELECT * FROM clips WHERE status IN ({marks}) ORDER BY id", statuses
        else:
            sql = f"SELECT * FROM clips WHERE guild_id = ? AND status IN ({marks}) ORDER BY id"
            params = [guild_id, *statuses]
        return [records.clip_from_row(row) for row in await self.db.fetchall(sql, params)]

    async def refusal(self, clip: Clip, action: ReviewAction) -> ReviewError | None:
        """Why the clip's state rules `action` out, None if it doesn't: the check every act
        makes in its transaction, and the card's buttons make before opening a form."""
        if allows(clip.status, action):
            return None
        if action in DECISION_ACTIONS or (action == A.PUBLISH and clip.status == S.PUBLISHED):
            return await self._already_decided(clip)  # someone else was first
        if action == A.RESUBMIT and clip.status == S.SUPERSEDED:
            newest = await self._newest_version(clip.root_id)
            return IllegalTransition(
                clip.id,
                clip.status,
                action,
                f"Clip #{clip.id} already has a newer version (#{newest.id}, version "
                f"{newest.version}); resubmit that one.",
            )
        text = refusal_text(clip.id, clip.status, action)
        assert text is not None
        return IllegalTransition(clip.id, clip.status, action, text)

    async def last_entry_to(self, clip_id: int, status: ClipStatus) -> AuditEntry | None:
        """The most recent audit entry that moved the clip into `status` (e.g. when approved)."""
        row = await self.db.fetchone(
            "SELECT * FROM clip_audit WHERE clip_id = ? AND to_state = ? AND action != ?"
            " ORDER BY id DESC LIMIT 1",
            (clip_id, status, A.SET_SECRET),
        )
        return records.audit_from_row(row) if row else None

    # --- internals ---------------------------------------------------------------------------

    async def _write(self, body: Callable[[aiosqlite.Connection], Awaitable[T | ReviewError]]) -> T:
        async with self.db.transaction() as conn:
            result = await body(conn)
        if isinstance(result, ReviewError):
            raise result
        return result

    async def _find(self, clip_id: int, guild_id: int) -> Clip | None:
        row = await self.db.fetchone(
            "SELECT * FROM clips WHERE id = ? AND guild_id = ?", (clip_id, guild_id)
        )
        return records.clip_from_row(row) if row else None

    async def _require(self, clip_id: int, guild_id: int) -> Clip:
        clip = await self._find(clip_id, guild_id)
        if clip is None:
            raise ClipNotFound(clip_id)
        return clip

    async def _newest_version(self, root_id: int) -> Clip:
        row = await self.db.fetchone(
            "SELECT * FROM clips WHERE COALESCE(parent_id, id) = ? ORDER BY version DESC LIMIT 1",
            (root_id,),
        )
        assert row is not None  # the root itself is in the family
        return records.clip_from_row(row)

    async def _approvers(self, clip: Clip) -> tuple[int, ...]:
        rows = await self.db.fetchall(
            "SELECT actor_id FROM clip_decisions WHERE clip_id = ? AND review_round = ?"
            " AND action = ? ORDER BY id",
            (clip.id, clip.review_round, A.APPROVE),
        )
        return tuple(row["actor_id"] for row in rows)

    async def _already_decided(self, clip: Clip) -> AlreadyDecided:
        entry = await self.last_entry_to(clip.id, clip.status)
        return AlreadyDecided(
            clip.id,
            clip.status,
            entry.actor_id if entry else None,
            entry.action if entry else None,
            entry.at if entry else None,
            now=self._clock(),
        )

    async def _decide_against(
        self,
        clip_id: int,
        guild_id: int,
        actor_id: int,
        action: ReviewAction,
        reason: str,
        checklist: Checklist | None,
        policy: ReviewPolicy,
    ) -> DecisionOutcome:
        reason = _required_reason(action, reason)
        checklist = checklist or Checklist()

        async def write(conn: aiosqlite.Connection) -> DecisionOutcome | ReviewError:
            clip = await self._find(clip_id, guild_id)
            if clip is None:
                return ClipNotFound(clip_id)
            if refused := await self.refusal(clip, action):
                return refused
            approvers = await self._approvers(clip)
            now = self._clock()
            await records.insert_decision(conn, clip, actor_id, action, reason, checklist, now)
            target = _target(clip.status, action)
            clip = await self._move(conn, clip, action, target, actor_id, reason, checklist, now)
            return DecisionOutcome(clip, action, approvers, policy.approvals_required)

        return await self._write(write)

    async def _move(
        self,
        conn: aiosqlite.Connection,
        clip: Clip,
        action: ReviewAction,
        to_state: ClipStatus,
        actor_id: int,
        reason: str,
        checklist: Checklist | None,
        now: float,
    ) -> Clip:
        """Change the state and append its audit row, in the caller's transaction."""
        if not is_legal(action, clip.status, to_state):
            raise AssertionError(f"{action}: {clip.status} -> {to_state} is not a legal move")
        next_round = clip.review_round + 1 if action == A.REOPEN else clip.review_round
        cur = await conn.execute(
            "UPDATE clips SET status = ?, review_round = ?, updated_at = ?"
            " WHERE id = ? AND status = ?",
            (to_state, next_round, now, clip.id, clip.status),
        )
        if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; refuse to write a lie
            raise AssertionError(f"clip #{clip.id} changed state during its transaction")
        await records.append_audit(
            conn,
            clip.id,
            clip.guild_id,
            actor_id,
            action,
            clip.status,
            to_state,
            reason,
            checklist,
            now,
        )
        return await self._require(clip.id, clip.guild_id)


def status_values(status: StatusFilter) -> list[str]:
    """The state names a status filter stands for (None: the review queue's states)."""
    if status is None:
        return sorted(QUEUE_STATUSES)
    if isinstance(status, str):
        return [ClipStatus(status).value]
    return [ClipStatus(s).value for s in status]


def _target(status: ClipStatus, action: ReviewAction) -> ClipStatus:
    """Where the table sends the clip (every act but approve leads to one state from each)."""
    (to_state,) = leads_to(status, action)
    return to_state


def _checked_draft(draft: ClipDraft) -> ClipDraft:
    if not draft.title.strip():
        raise InvalidDraft("A clip needs a title.")
    return draft


def _required_reason(action: ReviewAction, reason: str) -> str:
    reason = (reason or "").strip()
    if action in REASON_REQUIRED and not reason:
        raise ReasonRequired(action)
    return reason

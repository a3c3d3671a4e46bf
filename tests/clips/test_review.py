"""The review queue: transitions, guild policy, races, resubmissions, audit trail."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.clips import (
    AlreadyDecided,
    Checklist,
    ChecklistContradiction,
    ClipError,
    ClipNotFound,
    ClipStatus,
    DuplicateApproval,
    IllegalTransition,
    InvalidDraft,
    NotSubmitter,
    ReasonRequired,
    ReviewPolicy,
    ReviewQueue,
    SelfApproval,
)
from bot.clips.schema import CLIPS_MIGRATIONS
from bot.clips.states import replay
from bot.storage import Database
from tests.clips.conftest import (
    GUILD,
    MOD_A,
    MOD_B,
    MOD_C,
    OTHER_GUILD,
    STREAMER,
    SUBMITTER,
    FakeClock,
    draft,
)

S = ClipStatus
TWO_MODS = ReviewPolicy(approvals_required=2)
VETO = ReviewPolicy(approvals_required=1, streamer_role_can_veto=True)


async def assert_audit_replays(queue: ReviewQueue, clip_id: int, guild_id: int = GUILD) -> None:
    clip = await queue.get(clip_id, guild_id)
    trail = await queue.history(clip_id, guild_id, whole_family=False)
    assert replay((e.action, e.from_state, e.to_state) for e in trail) == clip.status


async def test_submit_and_guild_scoped_get(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft(settings={"seed": 7}, fingerprint=(1, 2)))
    assert (clip.label, clip.status, clip.version, clip.parent_id) == ("#1", S.SUBMITTED, 1, None)
    assert clip.settings == {"seed": 7} and clip.fingerprint == (1, 2)
    assert await queue.get(clip.id, GUILD) == clip
    with pytest.raises(ClipNotFound) as caught:
        await queue.get(clip.id, OTHER_GUILD)
    assert str(caught.value) == "There is no clip #1 in this server."
    with pytest.raises(ClipNotFound):
        await queue.approve(clip.id, OTHER_GUILD, MOD_A)
    with pytest.raises(InvalidDraft, match="needs a title"):
        await queue.submit(GUILD, SUBMITTER, draft(title="  "))


async def test_claim_opens_a_submitted_clip_once(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    assert (await queue.claim(clip.id, GUILD, SUBMITTER)).status == S.SUBMITTED  # own clip
    assert (await queue.claim(clip.id, GUILD, MOD_A)).status == S.IN_REVIEW
    assert (await queue.claim(clip.id, GUILD, MOD_B)).status == S.IN_REVIEW  # no error, no row
    actions = [e.action for e in await queue.history(clip.id, GUILD)]
    assert actions == ["submit", "claim"]


async def test_single_approval_approves_and_stores_the_checklist(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    checklist = Checklist(quality=True, brand_safety=True, copyright=None, likeness_consent=True)
    outcome = await queue.approve(clip.id, GUILD, MOD_A, checklist=checklist, note="great")
    assert outcome.clip.status == S.APPROVED
    assert (outcome.approvals, outcome.approvals_missing) == ((MOD_A,), 0)
    [decision] = await queue.decisions(clip.id, GUILD)
    assert (decision.action, decision.actor_id, decision.checklist) == ("approve", MOD_A, checklist)
    last = (await queue.history(clip.id, GUILD))[-1]
    assert (last.from_state, last.to_state, last.checklist) == (S.SUBMITTED, S.APPROVED, checklist)
    await assert_audit_replays(queue, clip.id)


async def test_nobody_approves_their_own_clip(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, MOD_A, draft())
    with pytest.raises(SelfApproval) as caught:
        await queue.approve(clip.id, GUILD, MOD_A)
    assert str(caught.value) == "You can't approve your own clip (#1); another mod has to."
    assert (await queue.get(clip.id, GUILD)).status == S.SUBMITTED


async def test_approving_with_a_failed_checklist_item_is_refused(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    with pytest.raises(ChecklistContradiction, match="copyright, likeness and consent"):
        await queue.approve(
            clip.id, GUILD, MOD_A, checklist=Checklist(copyright=False, likeness_consent=False)
        )


async def test_quorum_counts_distinct_mods(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    first = await queue.approve(clip.id, GUILD, MOD_A, policy=TWO_MODS)
    assert first.clip.status == S.IN_REVIEW
    assert (first.approvals, first.approvals_missing) == ((MOD_A,), 1)
    with pytest.raises(DuplicateApproval) as caught:
        await queue.approve(clip.id, GUILD, MOD_A, policy=TWO_MODS)
    assert str(caught.value) == (
        "You already approved clip #1; it needs 1 more approval from other mods."
    )
    second = await queue.approve(clip.id, GUILD, MOD_B, policy=TWO_MODS)
    assert second.clip.status == S.APPROVED
    assert second.approvals == (MOD_A, MOD_B)
    assert await queue.approvers(clip.id, GUILD) == (MOD_A, MOD_B)
    await assert_audit_replays(queue, clip.id)


@pytest.mark.parametrize("action", ["reject", "request_changes", "hold"])
async def test_refusals_need_a_reason(queue: ReviewQueue, action: str) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    with pytest.raises(ReasonRequired, match="needs a reason"):
        await getattr(queue, action)(clip.id, GUILD, MOD_A, "   ")
    outcome = await getattr(queue, action)(clip.id, GUILD, MOD_A, " logo is warped ")
    expected = {"reject": S.REJECTED, "request_changes": S.CHANGES_REQUESTED, "hold": S.HELD}
    assert outcome.clip.status == expected[action]
    assert (await queue.history(clip.id, GUILD))[-1].reason == "logo is warped"


async def test_one_rejection_beats_a_partial_quorum(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    await queue.approve(clip.id, GUILD, MOD_A, policy=TWO_MODS)
    outcome = await queue.reject(clip.id, GUILD, MOD_B, "Pikachu is recognisable", policy=TWO_MODS)
    assert outcome.clip.status == S.REJECTED
    assert outcome.approvals == (MOD_A,)


async def test_streamer_veto_overrides_an_approval(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    await queue.approve(clip.id, GUILD, MOD_A, policy=VETO)
    with pytest.raises(AlreadyDecided):  # a plain mod can't reject an approved clip
        await queue.reject(clip.id, GUILD, MOD_B, "no", policy=VETO)
    with pytest.raises(AlreadyDecided):  # nor can the streamer without the veto policy
        await queue.reject(clip.id, GUILD, STREAMER, "no", is_streamer=True)
    with pytest.raises(ReasonRequired, match="Vetoing a clip"):
        await queue.reject(clip.id, GUILD, STREAMER, "", policy=VETO, is_streamer=True)
    outcome = await queue.reject(
        clip.id, GUILD, STREAMER, "off brand", policy=VETO, is_streamer=True
    )
    assert (outcome.clip.status, outcome.action) == (S.REJECTED, "veto")
    await assert_audit_replays(queue, clip.id)


async def test_already_decided_names_who_and_what(queue: ReviewQueue, clock: FakeClock) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    await queue.approve(clip.id, GUILD, MOD_A)
    clock.advance(4)
    with pytest.raises(AlreadyDecided) as caught:
        await queue.hold(clip.id, GUILD, MOD_B, "wait for legal")
    error = caught.value
    assert (error.actor_id, error.action, error.status, error.seconds_ago) == (
        MOD_A,
        "approve",
        S.APPROVED,
        4,
    )
    assert str(error) == f"Clip #1 was already approved by user {MOD_A} 4 s ago."


async def test_two_mods_at_the_same_moment_make_one_decision(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    results = await asyncio.gather(
        queue.approve(clip.id, GUILD, MOD_A),
        queue.reject(clip.id, GUILD, MOD_B, "blurry"),
        queue.request_changes(clip.id, GUILD, MOD_C, "shorter"),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, AlreadyDecided) for e in losers), losers
    [decision] = await queue.decisions(clip.id, GUILD)
    assert decision.action == winners[0].action
    assert {(e.actor_id, e.action) for e in losers} == {(decision.actor_id, decision.action)}
    await assert_audit_replays(queue, clip.id)


async def test_two_bot_processes_racing_on_one_file(tmp_path: Path, clock: FakeClock) -> None:
    """Separate connections (as after a restart overlap): BEGIN IMMEDIATE serialises them."""
    path = tmp_path / "shared.db"
    first_db, second_db = await Database.open(path), await Database.open(path)
    try:
        first = await ReviewQueue.open(first_db, clock=clock)
        second = await ReviewQueue.open(second_db, clock=clock)
        clip = await first.submit(GUILD, SUBMITTER, draft())
        results = await asyncio.gather(
            first.approve(clip.id, GUILD, MOD_A),
            second.reject(clip.id, GUILD, MOD_B, "no"),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert sum(isinstance(r, AlreadyDecided) for r in results) == 1
        assert len(await first.decisions(clip.id, GUILD)) == 1
    finally:
        await first_db.close()
        await second_db.close()


async def test_reopen_needs_a_reason_and_starts_a_new_round(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    await queue.approve(clip.id, GUILD, MOD_A)
    with pytest.raises(ReasonRequired):
        await queue.reopen(clip.id, GUILD, MOD_B, "")
    reopened = await queue.reopen(clip.id, GUILD, MOD_B, "sponsor asked to check the logo")
    assert (reopened.status, reopened.review_round) == (S.IN_REVIEW, 2)
    assert await queue.approvers(clip.id, GUILD) == ()  # old approvals don't count any more
    with pytest.raises(IllegalTransition, match="still open for review"):
        await queue.reopen(clip.id, GUILD, MOD_B, "again")
    again = await queue.approve(clip.id, GUILD, MOD_A)  # the same mod may approve the new round
    assert again.clip.status == S.APPROVED
    entries = await queue.history(clip.id, GUILD)
    assert [e.action for e in entries] == ["submit", "approve", "reopen", "approve"]
    assert entries[2].reason == "sponsor asked to check the logo"
    await assert_audit_replays(queue, clip.id)


async def test_publish_only_from_approved(queue: ReviewQueue, clock: FakeClock) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    with pytest.raises(IllegalTransition) as caught:
        await queue.mark_published(clip.id, GUILD, MOD_A)
    assert str(caught.value) == (
        "Clip #1 is waiting for review; only approved clips can be marked published."
    )
    await queue.approve(clip.id, GUILD, MOD_A)
    published = await queue.mark_published(clip.id, GUILD, STREAMER)
    assert published.status == S.PUBLISHED
    with pytest.raises(AlreadyDecided, match="already marked published"):
        await queue.mark_published(clip.id, GUILD, MOD_B)
    with pytest.raises(IllegalTransition, match="already published"):
        await queue.reopen(clip.id, GUILD, MOD_B, "oops")
    await assert_audit_replays(queue, clip.id)


async def test_resubmission_chain(queue: ReviewQueue) -> None:
    v1 = await queue.submit(GUILD, SUBMITTER, draft(sha256="a" * 64))
    with pytest.raises(IllegalTransition, match="only clips that were rejected"):
        await queue.resubmit(v1.id, GUILD, SUBMITTER, draft())
    await queue.reject(v1.id, GUILD, MOD_A, "hands look wrong")
    with pytest.raises(NotSubmitter):
        await queue.resubmit(v1.id, GUILD, MOD_A, draft())
    v2 = await queue.resubmit(v1.id, GUILD, SUBMITTER, v1.to_draft(sha256="b" * 64))
    assert (v2.version, v2.parent_id, v2.root_id, v2.status) == (2, v1.id, v1.id, S.SUBMITTED)
    assert (await queue.get(v1.id, GUILD)).status == S.SUPERSEDED
    await queue.request_changes(v2.id, GUILD, MOD_A, "trim to 10 s")
    v3 = await queue.resubmit(v2.id, GUILD, SUBMITTER, v2.to_draft(title="Neon raid (short)"))
    assert (v3.version, v3.parent_id) == (3, v1.id)  # linked to the first version
    with pytest.raises(IllegalTransition) as caught:
        await queue.resubmit(v1.id, GUILD, SUBMITTER, draft())
    assert str(caught.value) == (
        f"Clip #{v1.id} already has a newer version (#{v3.id}, version 3); resubmit that one."
    )
    assert [c.version for c in await queue.versions(v2.id, GUILD)] == [1, 2, 3]
    trail = await queue.history(v3.id, GUILD)
    assert [(e.clip_id, e.action) for e in trail] == [
        (v1.id, "submit"),
        (v1.id, "reject"),
        (v2.id, "submit"),
        (v1.id, "resubmit"),
        (v2.id, "request_changes"),
        (v3.id, "submit"),
        (v2.id, "resubmit"),
    ]
    for clip in (v1, v2, v3):
        await assert_audit_replays(queue, clip.id)


async def test_audit_rows_cannot_be_changed_or_deleted(queue: ReviewQueue, db: Database) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    await queue.approve(clip.id, GUILD, MOD_A)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await db.execute("UPDATE clip_audit SET to_state = 'rejected'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await db.execute("DELETE FROM clip_audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await db.execute("DELETE FROM clip_decisions")
    await ReviewQueue.open(db)  # opening again is harmless
    assert len(await queue.history(clip.id, GUILD)) == 2


async def _rows(db: Database, table: str) -> list[tuple]:
    return [tuple(row) for row in await db.fetchall(f"SELECT * FROM {table} ORDER BY id")]


async def assert_no_row_is_replaced(db: Database) -> None:
    """INSERT OR REPLACE deletes the row it collides with, without firing DELETE triggers."""
    audit, decisions = await _rows(db, "clip_audit"), await _rows(db, "clip_decisions")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await db.execute(
            "INSERT OR REPLACE INTO clip_audit (id, clip_id, guild_id, actor_id, action,"
            " from_state, to_state, reason, at) SELECT id, clip_id, guild_id, actor_id,"
            " 'reject', from_state, 'rejected', 'rewritten', at FROM clip_audit"
            " ORDER BY id DESC LIMIT 1"
        )
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # the same id
        await db.execute(
            "REPLACE INTO clip_decisions (id, clip_id, guild_id, actor_id, action, reason,"
            " review_round, at) SELECT id, clip_id, guild_id, actor_id, 'reject', 'rewritten',"
            " review_round, at FROM clip_decisions LIMIT 1"
        )
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # one approval per mod
        await db.execute(
            "INSERT OR REPLACE INTO clip_decisions (clip_id, guild_id, actor_id, action, reason,"
            " review_round, at) SELECT clip_id, guild_id, actor_id, action, 'rewritten',"
            " review_round, at + 1 FROM clip_decisions LIMIT 1"
        )
    assert await _rows(db, "clip_audit") == audit
    assert await _rows(db, "clip_decisions") == decisions


async def test_audit_rows_cannot_be_replaced(queue: ReviewQueue, db: Database) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    await queue.approve(clip.id, GUILD, MOD_A, policy=TWO_MODS)
    await assert_no_row_is_replaced(db)
    await queue.approve(clip.id, GUILD, MOD_B, policy=TWO_MODS)  # normal inserts still work
    assert (await queue.get(clip.id, GUILD)).status == S.APPROVED


async def test_a_database_made_before_the_replace_guard_gets_it(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "old.db")
    try:
        await db.migrate("clips", CLIPS_MIGRATIONS[:1])  # as the first release left it
        async with db.transaction() as conn:
            for op in ("UPDATE", "DELETE"):
                for table in ("clip_audit", "clip_decisions"):
                    await conn.execute(
                        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN"
                        f" SELECT RAISE(ABORT, '{table} is append-only'); END"
                    )
        queue = await ReviewQueue.open(db)  # the next start of the bot
        clip = await queue.submit(GUILD, SUBMITTER, draft())
        await queue.approve(clip.id, GUILD, MOD_A, policy=TWO_MODS)
        await assert_no_row_is_replaced(db)
    finally:
        await db.close()


async def test_secret_flag_and_card_location(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    secret = await queue.set_secret(clip.id, GUILD, SUBMITTER, True)
    assert secret.secret
    assert (await queue.set_secret(clip.id, GUILD, SUBMITTER, True)) == secret  # no-op
    carded = await queue.set_card(clip.id, GUILD, channel_id=5, message_id=6, thread_id=7)
    assert (carded.card_channel_id, carded.card_message_id, carded.thread_id) == (5, 6, 7)
    with pytest.raises(ClipNotFound):
        await queue.set_card(clip.id, OTHER_GUILD, channel_id=5, message_id=6)
    actions = [e.action for e in await queue.history(clip.id, GUILD)]
    assert actions == ["submit", "set_secret"]
    await assert_audit_replays(queue, clip.id)


async def test_queue_filters_and_pages(queue: ReviewQueue) -> None:
    a = await queue.submit(GUILD, SUBMITTER, draft("A", tool="Sora", use="alert"))
    b = await queue.submit(GUILD, MOD_C, draft("B", tool="Runway", use="intro"))
    c = await queue.submit(GUILD, SUBMITTER, draft("C", tool="sora", use="alert"))
    d = await queue.submit(GUILD, SUBMITTER, draft("D"))
    await queue.submit(OTHER_GUILD, SUBMITTER, draft("elsewhere"))
    await queue.approve(d.id, GUILD, MOD_A)
    await queue.hold(b.id, GUILD, MOD_A, "waiting for the sponsor")

    def ids(clips):
        return [clip.id for clip in clips]

    assert ids(await queue.queue(GUILD)) == [a.id, b.id, c.id]  # held is still waiting
    assert ids(await queue.queue(GUILD, tool="SORA")) == [a.id, c.id]
    assert ids(await queue.queue(GUILD, use="intro")) == [b.id]
    assert ids(await queue.queue(GUILD, submitter=MOD_C)) == [b.id]
    assert ids(await queue.queue(GUILD, status="approved")) == [d.id]
    assert ids(await queue.queue(GUILD, status=[S.APPROVED, S.HELD])) == [b.id, d.id]
    assert ids(await queue.queue(GUILD, limit=2, offset=1)) == [b.id, c.id]
    assert ids(await queue.mine(GUILD, SUBMITTER)) == [d.id, c.id, a.id]


async def test_search_ids_for_autocomplete(queue: ReviewQueue) -> None:
    for i in range(12):
        await queue.submit(GUILD, SUBMITTER, draft(f"clip {i}" if i != 5 else "100% hype"))
    assert [c.id for c in await queue.search_ids(GUILD, "#1")] == [12, 11, 10, 1]
    assert [c.id for c in await queue.search_ids(GUILD, "1", limit=2)] == [12, 11]
    assert [c.id for c in await queue.search_ids(GUILD, "HYPE")] == [6]
    assert [c.id for c in await queue.search_ids(GUILD, "100%")] == [6]
    assert await queue.search_ids(GUILD, "_") == []  # wildcards are literal
    assert await queue.search_ids(OTHER_GUILD, "1") == []
    assert len(await queue.search_ids(GUILD, "")) == 12


async def test_log_for_user_and_stats(queue: ReviewQueue, clock: FakeClock) -> None:
    first = await queue.submit(GUILD, SUBMITTER, draft())
    second = await queue.submit(GUILD, SUBMITTER, draft())
    third = await queue.submit(GUILD, MOD_C, draft())
    clock.advance(60)
    await queue.approve(first.id, GUILD, MOD_A)
    clock.advance(60)
    await queue.reject(second.id, GUILD, MOD_A, "no")
    await queue.approve(third.id, GUILD, MOD_B, policy=TWO_MODS)  # partial: not yet decided
    log = await queue.log_for_user(GUILD, SUBMITTER)
    assert [(e.clip_id, e.action) for e in log] == [
        (second.id, "reject"),
        (first.id, "approve"),
        (second.id, "submit"),
        (first.id, "submit"),
    ]
    assert [e.action for e in await queue.log_for_user(GUILD, MOD_B)] == ["approve"]
    stats = await queue.stats(GUILD)
    assert stats.by_status == {"approved": 1, "rejected": 1, "in_review": 1}
    assert stats.median_decision_s == 90.0  # 60 s and 120 s
    assert stats.decisions_by_mod == {MOD_A: {"approve": 1, "reject": 1}, MOD_B: {"approve": 1}}
    empty = await queue.stats(OTHER_GUILD)
    assert (empty.by_status, empty.median_decision_s, empty.decisions_by_mod) == ({}, None, {})


async def test_duplicate_lookups(queue: ReviewQueue) -> None:
    sha = "c" * 64
    fingerprint = (0xFFFF_0000_FFFF_0000, 0x1234_5678_9ABC_DEF0)
    first = await queue.submit(GUILD, SUBMITTER, draft(sha256=sha, fingerprint=fingerprint))
    exact = await queue.find_duplicate(GUILD, sha.upper())
    assert exact is not None and (exact.clip_id, exact.exact, exact.status) == (
        first.id,
        True,
        "submitted",
    )
    assert await queue.find_duplicate(OTHER_GUILD, sha) is None
    assert await queue.find_duplicate(GUILD, sha, exclude_family=first.id) is None
    close = (fingerprint[0] ^ 0b111, fingerprint[1])  # 3 bits off in one frame: 1.5 mean
    near = await queue.find_near_duplicate(GUILD, close)
    assert near is not None and (near.clip_id, near.distance, near.exact) == (first.id, 1.5, False)
    far = (~fingerprint[0] & (2**64 - 1), ~fingerprint[1] & (2**64 - 1))
    assert await queue.find_near_duplicate(GUILD, far) is None
    assert await queue.find_near_duplicate(GUILD, close, exclude_family=first.id) is None
    assert await queue.find_near_duplicate(GUILD, ()) is None


async def test_errors_are_clip_errors_with_sentences(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    for call in (
        queue.approve(clip.id, GUILD, SUBMITTER),
        queue.reject(clip.id, GUILD, MOD_A, ""),
        queue.get(999, GUILD),
    ):
        with pytest.raises(ClipError) as caught:
            await call
        message = str(caught.value)
        assert message[0].isupper() and message.endswith("."), message

"""Property test: any sequence of review actions keeps the queue consistent with the rules.

A small reference model written from the spec (not from the implementation) predicts each
action's effect; after every step the database must agree with the model, refused actions must
change nothing, and every clip's audit trail must replay, move by legal move, to its state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clips import ClipStatus, ReviewError, ReviewPolicy, ReviewQueue
from bot.clips.states import replay
from bot.storage import Database
from tests.clips.conftest import draft

S = ClipStatus
GUILD = 5
SUBMITTER = 1
STREAMER = 9
ACTORS = (SUBMITTER, 2, 3, 4, STREAMER)

action_strategy = st.tuples(
    st.sampled_from(
        [
            "claim",
            "approve",
            "reject",
            "request_changes",
            "hold",
            "reopen",
            "publish",
            "resubmit",
            "secret",
        ]
    ),
    st.sampled_from(ACTORS),
    st.integers(min_value=0, max_value=5),  # which clip (index into every version so far)
    st.sampled_from(["looks off", "", "  "]),  # blank reasons must be refused
)


@dataclass
class ModelClip:
    status: ClipStatus = S.SUBMITTED
    approvals: set[int] = field(default_factory=set)


@dataclass
class Model:
    policy: ReviewPolicy
    clips: list[ModelClip] = field(default_factory=lambda: [ModelClip()])

    def apply(self, action: str, actor: int, index: int, reason: str) -> bool:
        """Mutate the model; returns False when the rules refuse the action."""
        clip = self.clips[index]
        has_reason = bool(reason.strip())
        open_states = {S.SUBMITTED, S.IN_REVIEW}
        if action == "claim":
            if clip.status == S.SUBMITTED and actor != SUBMITTER:
                clip.status = S.IN_REVIEW
            return True
        if action == "approve":
            if actor == SUBMITTER or clip.status not in open_states or actor in clip.approvals:
                return False
            clip.approvals.add(actor)
            enough = len(clip.approvals) >= self.policy.approvals_required
            clip.status = S.APPROVED if enough else S.IN_REVIEW
            return True
        if action in ("reject", "request_changes", "hold"):
            veto = action == "reject" and actor == STREAMER and self.policy.streamer_role_can_veto
            allowed = open_states | ({S.APPROVED, S.HELD} if veto else set())
            if not has_reason or clip.status not in allowed:
                return False
            clip.status = {
                "reject": S.REJECTED,
                "request_changes": S.CHANGES_REQUESTED,
                "hold": S.HELD,
            }[action]
            return True
        if action == "reopen":
            reopenable = {S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED, S.HELD}
            if not has_reason or clip.status not in reopenable:
                return False
            clip.status, clip.approvals = S.IN_REVIEW, set()
            return True
        if action == "publish":
            if clip.status != S.APPROVED:
                return False
            clip.status = S.PUBLISHED
            return True
        if action == "resubmit":
            if actor != SUBMITTER or clip.status not in {S.REJECTED, S.CHANGES_REQUESTED}:
                return False
            clip.status = S.SUPERSEDED
            self.clips.append(ModelClip())
            return True
        if action == "secret":
            return True
        raise AssertionError(action)


async def perform(
    queue: ReviewQueue, policy: ReviewPolicy, clip_id: int, action: str, actor: int, reason: str
) -> object:
    if action == "claim":
        return await queue.claim(clip_id, GUILD, actor)
    if action == "approve":
        return await queue.approve(clip_id, GUILD, actor, policy=policy)
    if action == "reject":
        return await queue.reject(
            clip_id, GUILD, actor, reason, policy=policy, is_streamer=actor == STREAMER
        )
    if action == "request_changes":
        return await queue.request_changes(clip_id, GUILD, actor, reason, policy=policy)
    if action == "hold":
        return await queue.hold(clip_id, GUILD, actor, reason, policy=policy)
    if action == "reopen":
        return await queue.reopen(clip_id, GUILD, actor, reason)
    if action == "publish":
        return await queue.mark_published(clip_id, GUILD, actor)
    if action == "resubmit":
        return await queue.resubmit(clip_id, GUILD, actor, draft("again"))
    if action == "secret":
        return await queue.set_secret(clip_id, GUILD, actor, secret=actor % 2 == 0)
    raise AssertionError(action)


async def run_sequence(policy: ReviewPolicy, steps: list[tuple[str, int, int, str]]) -> None:
    db = await Database.open(":memory:")
    try:
        queue = await ReviewQueue.open(db)
        first = await queue.submit(GUILD, SUBMITTER, draft())
        clip_ids = [first.id]
        model = Model(policy)
        for action, actor, pick, reason in steps:
            index = pick % len(clip_ids)
            audit_before = await db.fetchone("SELECT COUNT(*) FROM clip_audit")
            expected_ok = model.apply(action, actor, index, reason)
            try:
                result = await perform(queue, policy, clip_ids[index], action, actor, reason)
            except ReviewError:
                assert not expected_ok, (action, actor, index, reason)
                audit_after = await db.fetchone("SELECT COUNT(*) FROM clip_audit")
                assert audit_after[0] == audit_before[0]  # a refusal writes nothing
            else:
                assert expected_ok, (action, actor, index, reason)
                if action == "resubmit":
                    clip_ids.append(result.id)  # type: ignore[attr-defined]
            touched = {index, len(clip_ids) - 1}  # the clip acted on, and a new version
            await check_consistency(queue, model, clip_ids, touched)
        await check_consistency(queue, model, clip_ids, set(range(len(clip_ids))))
    finally:
        await db.close()


async def check_consistency(
    queue: ReviewQueue, model: Model, clip_ids: list[int], indexes: set[int]
) -> None:
    assert len(clip_ids) == len(model.clips)
    for index in sorted(indexes):
        clip_id, expected = clip_ids[index], model.clips[index]
        clip = await queue.get(clip_id, GUILD)
        assert clip.status == expected.status
        trail = await queue.history(clip_id, GUILD, whole_family=False)
        assert replay((e.action, e.from_state, e.to_state) for e in trail) == clip.status
        if clip.status in (S.SUBMITTED, S.IN_REVIEW, S.APPROVED):
            assert set(await queue.approvers(clip_id, GUILD)) == expected.approvals


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    approvals_required=st.integers(min_value=1, max_value=3),
    veto=st.booleans(),
    steps=st.lists(action_strategy, max_size=25),
)
def test_any_action_sequence_keeps_state_and_audit_consistent(
    approvals_required: int, veto: bool, steps: list[tuple[str, int, int, str]]
) -> None:
    policy = ReviewPolicy(approvals_required=approvals_required, streamer_role_can_veto=veto)
    asyncio.run(run_sequence(policy, steps))

"""The review table (bot/clips/states.py) is the one source of the review rules.

It makes exactly the moves the green room has always allowed, its derived sets are the ones the
queue used to spell out, and the queue refuses an act exactly when the table rules it out, with
the same error its buttons' pre-check gets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.clips import ClipStatus, ReviewAction, ReviewError, ReviewPolicy, ReviewQueue
from bot.clips.errors import AlreadyDecided, IllegalTransition, ReasonRequired
from bot.clips.states import (
    ACTIONS,
    BUTTON_ACTIONS,
    DECIDED_STATUSES,
    DECISION_ACTIONS,
    OPEN_STATUSES,
    QUEUE_STATUSES,
    REASON_REQUIRED,
    STATES,
    allows,
    is_legal,
    leads_to,
    refusal_text,
)
from tests.clips.conftest import GUILD, MOD_A, STREAMER, SUBMITTER, draft

S = ClipStatus
A = ReviewAction
OPEN = (S.SUBMITTED, S.IN_REVIEW)

# The moves as bot/clips/states.py listed them before the table (action -> from -> to).
DOCUMENTED_MOVES: dict[ReviewAction, dict[ClipStatus | None, set[ClipStatus]]] = {
    A.SUBMIT: {None: {S.SUBMITTED}},
    A.CLAIM: {S.SUBMITTED: {S.IN_REVIEW}},
    A.APPROVE: {s: {S.IN_REVIEW, S.APPROVED} for s in OPEN},
    A.REJECT: {s: {S.REJECTED} for s in OPEN},
    A.VETO: {s: {S.REJECTED} for s in (*OPEN, S.APPROVED, S.HELD)},
    A.REQUEST_CHANGES: {s: {S.CHANGES_REQUESTED} for s in OPEN},
    A.HOLD: {s: {S.HELD} for s in OPEN},
    A.REOPEN: {s: {S.IN_REVIEW} for s in (S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED, S.HELD)},
    A.PUBLISH: {S.APPROVED: {S.PUBLISHED}},
    A.RESUBMIT: {s: {S.SUPERSEDED} for s in (S.REJECTED, S.CHANGES_REQUESTED)},
    A.SET_SECRET: {s: {s} for s in ClipStatus},
}


def test_the_table_makes_exactly_the_documented_moves() -> None:
    made = {
        action: {s: set(leads_to(s, action)) for s in (None, *ClipStatus) if leads_to(s, action)}
        for action in ReviewAction
    }
    assert made == DOCUMENTED_MOVES


def test_the_derived_sets_are_the_ones_the_queue_spelled_out() -> None:
    assert {S.SUBMITTED, S.IN_REVIEW} == OPEN_STATUSES
    assert {S.SUBMITTED, S.IN_REVIEW, S.HELD} == QUEUE_STATUSES
    assert {A.APPROVE, A.REJECT, A.VETO, A.REQUEST_CHANGES, A.HOLD} == DECISION_ACTIONS
    assert {A.REJECT, A.VETO, A.REQUEST_CHANGES, A.HOLD, A.REOPEN} == REASON_REQUIRED
    assert {S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED, S.HELD} == DECIDED_STATUSES


def test_every_state_and_act_has_its_words() -> None:
    labels = [state.label for state in STATES.values()]
    assert all(labels) and len(set(labels)) == len(labels)  # filters and choices go by label
    assert all(state.icon and state.colour for state in STATES.values())
    assert all(info.label for info in ACTIONS.values())
    for action, info in ACTIONS.items():
        if info.decision:
            assert info.done, f"{action}: AlreadyDecided says what was done"
        if info.button and action in REASON_REQUIRED | {A.APPROVE}:
            assert "{}" in info.form, f"{action}: its button opens a form"
        if info.reason:
            assert str(ReasonRequired(action)).startswith(f"{info.reason} needs a reason")
    assert sorted(BUTTON_ACTIONS.values()) == sorted(a for a, i in ACTIONS.items() if i.button)


def test_the_command_line_lists_the_same_states() -> None:
    """`greenroom clips export --status` spells the names out (its --help loads no media)."""
    from bot.cli import CLIP_STATUSES

    assert tuple(CLIP_STATUSES) == tuple(ClipStatus)


VETO = ReviewPolicy(streamer_role_can_veto=True)
Act = Callable[[ReviewQueue, int], Awaitable[object]]
ACTS: dict[ReviewAction, Act] = {  # each act asked of the queue by someone entitled to it
    A.CLAIM: lambda q, i: q.claim(i, GUILD, MOD_A),
    A.APPROVE: lambda q, i: q.approve(i, GUILD, MOD_A),
    A.REJECT: lambda q, i: q.reject(i, GUILD, MOD_A, "too dark"),
    A.VETO: lambda q, i: q.reject(i, GUILD, STREAMER, "off brand", policy=VETO, is_streamer=True),
    A.REQUEST_CHANGES: lambda q, i: q.request_changes(i, GUILD, MOD_A, "shorter"),
    A.HOLD: lambda q, i: q.hold(i, GUILD, MOD_A, "sponsor"),
    A.REOPEN: lambda q, i: q.reopen(i, GUILD, MOD_A, "another look"),
    A.PUBLISH: lambda q, i: q.mark_published(i, GUILD, MOD_A),
    A.RESUBMIT: lambda q, i: q.resubmit(i, GUILD, SUBMITTER, draft("version 2")),
    A.SET_SECRET: lambda q, i: q.set_secret(i, GUILD, MOD_A, True),
}


@pytest.mark.parametrize("status", list(ClipStatus))
@pytest.mark.parametrize("action", list(ACTS))
async def test_the_queue_allows_exactly_what_the_table_allows(
    queue: ReviewQueue, status: ClipStatus, action: ReviewAction
) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft())
    await queue.db.execute("UPDATE clips SET status = ? WHERE id = ?", (status, clip.id))
    clip = await queue.get(clip.id, GUILD)
    checked = await queue.refusal(clip, action)  # what a card's button says before its form
    try:
        await ACTS[action](queue, clip.id)
    except ReviewError as error:
        assert not allows(status, action)
        assert type(error) is type(checked) and str(error) == str(checked)
        if action in DECISION_ACTIONS or (action, status) == (A.PUBLISH, S.PUBLISHED):
            assert isinstance(error, AlreadyDecided)  # someone else was first
        elif action != A.RESUBMIT or status != S.SUPERSEDED:  # that one names the newest
            assert isinstance(error, IllegalTransition)
            assert str(error) == refusal_text(clip.id, status, action)
        return
    after = await queue.get(clip.id, GUILD)
    if action == A.CLAIM and not allows(status, action):
        assert after.status == status  # opening a clip that is not new changes nothing
        return
    assert checked is None and allows(status, action)
    assert after.status in leads_to(status, action)
    last = (await queue.history(clip.id, GUILD, whole_family=False))[-1]
    assert (last.action, last.from_state, last.to_state) == (action, status, after.status)
    assert is_legal(last.action, last.from_state, last.to_state)

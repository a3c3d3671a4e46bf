"""The review states of a clip and the only moves between them.

    submitted -> in_review -> approved | rejected | changes_requested | held
    approved -> published                      (a mod marks it used)
    approved | rejected | changes_requested | held -> in_review   (reopen, with a reason)
    rejected | changes_requested -> superseded (the submitter sent version N+1)
    submitted | in_review | approved | held -> rejected            (streamer veto, if allowed)

Decisions may also be taken straight from `submitted`: the first decision counts as opening it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class ClipStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    HELD = "held"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class ReviewAction(StrEnum):
    SUBMIT = "submit"
    CLAIM = "claim"
    APPROVE = "approve"
    REJECT = "reject"
    VETO = "veto"
    REQUEST_CHANGES = "request_changes"
    HOLD = "hold"
    REOPEN = "reopen"
    PUBLISH = "publish"
    RESUBMIT = "resubmit"  # recorded on the old version as it becomes superseded
    SET_SECRET = "set_secret"  # not a move: audited with from_state == to_state


S = ClipStatus
OPEN_STATUSES = frozenset({S.SUBMITTED, S.IN_REVIEW})  # waiting for a decision
QUEUE_STATUSES = frozenset({S.SUBMITTED, S.IN_REVIEW, S.HELD})  # what `queue()` lists by default
REOPENABLE = frozenset({S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED, S.HELD})
RESUBMITTABLE = frozenset({S.REJECTED, S.CHANGES_REQUESTED})
VETOABLE = frozenset({S.SUBMITTED, S.IN_REVIEW, S.APPROVED, S.HELD})
DECISION_ACTIONS = frozenset(
    {
        ReviewAction.APPROVE,
        ReviewAction.REJECT,
        ReviewAction.VETO,
        ReviewAction.REQUEST_CHANGES,
        ReviewAction.HOLD,
    }
)
REASON_REQUIRED = frozenset(
    {
        ReviewAction.REJECT,
        ReviewAction.VETO,
        ReviewAction.REQUEST_CHANGES,
        ReviewAction.HOLD,
        ReviewAction.REOPEN,
    }
)

# action -> {from state: the states it may lead to}; None as from state means "new clip".
TRANSITIONS: dict[ReviewAction, dict[ClipStatus | None, frozenset[ClipStatus]]] = {
    ReviewAction.SUBMIT: {None: frozenset({S.SUBMITTED})},
    ReviewAction.CLAIM: {S.SUBMITTED: frozenset({S.IN_REVIEW})},
    ReviewAction.APPROVE: {
        s: frozenset({S.IN_REVIEW, S.APPROVED}) for s in OPEN_STATUSES
    },  # in_review while the quorum is not reached
    ReviewAction.REJECT: {s: frozenset({S.REJECTED}) for s in OPEN_STATUSES},
    ReviewAction.VETO: {s: frozenset({S.REJECTED}) for s in VETOABLE},
    ReviewAction.REQUEST_CHANGES: {s: frozenset({S.CHANGES_REQUESTED}) for s in OPEN_STATUSES},
    ReviewAction.HOLD: {s: frozenset({S.HELD}) for s in OPEN_STATUSES},
    ReviewAction.REOPEN: {s: frozenset({S.IN_REVIEW}) for s in REOPENABLE},
    ReviewAction.PUBLISH: {S.APPROVED: frozenset({S.PUBLISHED})},
    ReviewAction.RESUBMIT: {s: frozenset({S.SUPERSEDED}) for s in RESUBMITTABLE},
    ReviewAction.SET_SECRET: {s: frozenset({s}) for s in ClipStatus},
}


def is_legal(
    action: ReviewAction | str, from_state: ClipStatus | None, to_state: ClipStatus
) -> bool:
    allowed = TRANSITIONS.get(ReviewAction(action), {})
    return to_state in allowed.get(from_state, frozenset())


def replay(steps: Iterable[tuple[str, str | None, str]]) -> ClipStatus | None:
    """The state an audit trail of (action, from, to) leads to; ValueError if a step is illegal.

    Each step must start where the previous one ended, and be a move the rules allow.
    """
    state: ClipStatus | None = None
    for action, from_state, to_state in steps:
        start = ClipStatus(from_state) if from_state is not None else None
        end = ClipStatus(to_state)
        if start != state or not is_legal(action, start, end):
            raise ValueError(f"illegal audit step {action}: {from_state} -> {to_state} at {state}")
        state = end
    return state

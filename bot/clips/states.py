"""The review states of a clip, what may happen in each, and their words: the one table.

    submitted -> in_review -> approved | rejected | changes_requested | held
    approved -> published                      (a mod marks it used)
    approved | rejected | changes_requested | held -> in_review   (reopen, with a reason)
    rejected | changes_requested -> superseded (the submitter sent version N+1)
    submitted | in_review | approved | held -> rejected            (streamer veto, if allowed)

Decisions may also be taken straight from `submitted`: the first decision counts as opening it.

`STATES` (a row per state: its words, its look and the moves out of it) and `ACTIONS` (a row
per act: its words and its card button) are the only place these rules and words are written.
The legal moves, the open and queued states, the queue's checks, the buttons a card offers and
every label shown are derived from them: a new state is a name in `ClipStatus` and its row
(outside the bot, databases made before it need a migration: the clips table CHECKs its
status, and `greenroom clips export --status` spells the names out; tests/clips/test_states.py
says so). The look is named, not built (`colour="gold"`), so no discord import here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class State:
    label: str  # "changes requested": queue lines, filters, stats, the audit trail
    icon: str
    colour: str  # the card's colour, a discord.Colour class method ("gold")
    moves: Mapping[ReviewAction, frozenset[ClipStatus]]  # what may happen here -> where to
    queued: bool = False  # listed by /review queue without a status filter
    phrase: str = ""  # after "Clip #4 is", when the label reads badly there

    @property
    def is_phrase(self) -> str:
        return self.phrase or self.label


@dataclass(frozen=True)
class Action:
    label: str  # what the actor did, in the audit trail and stats: "asked for changes"
    done: str = ""  # what was done to the clip: "Clip #4 was already sent back for changes"
    decision: bool = False  # a reviewer's verdict, kept with its checklist (clip_decisions)
    reason: str = ""  # "Requesting changes" needs a reason; empty: no reason asked
    button: str = ""  # the card button's label; empty: no button
    style: str = "secondary"  # the button's discord.ButtonStyle
    button_id: str = ""  # the word in the button's custom_id (default: the action's value)
    form: str = ""  # the title of the form the button opens: "Reject clip #{}"
    failing_checks: bool = False  # that form asks which checklist items fail
    refused: str = ""  # "only ... can be ...", when the sentence made from the table reads badly
    keeps_state: bool = False  # not a move: allowed in every state, which stays as it is


S = ClipStatus
A = ReviewAction


def _to(*states: ClipStatus) -> frozenset[ClipStatus]:
    return frozenset(states)


START = S.SUBMITTED  # where a new clip, and each new version of one, starts
_DECISIONS = {
    A.APPROVE: _to(S.IN_REVIEW, S.APPROVED),  # in_review while the quorum is not reached
    A.REJECT: _to(S.REJECTED),
    A.REQUEST_CHANGES: _to(S.CHANGES_REQUESTED),
    A.HOLD: _to(S.HELD),
    A.VETO: _to(S.REJECTED),  # the streamer, when the guild's policy allows it
}

STATES: dict[ClipStatus, State] = {
    S.SUBMITTED: State(
        "waiting for review",
        "🟡",
        "gold",
        {A.CLAIM: _to(S.IN_REVIEW), **_DECISIONS},
        queued=True,
    ),
    S.IN_REVIEW: State("in review", "🔵", "blue", _DECISIONS, queued=True),
    S.APPROVED: State(
        "approved",
        "✅",
        "green",
        {
            A.PUBLISH: _to(S.PUBLISHED),
            A.REOPEN: _to(S.IN_REVIEW),
            A.VETO: _to(S.REJECTED),
        },
    ),
    S.REJECTED: State(
        "rejected",
        "⛔",
        "red",
        {A.REOPEN: _to(S.IN_REVIEW), A.RESUBMIT: _to(S.SUPERSEDED)},
    ),
    S.CHANGES_REQUESTED: State(
        "changes requested",
        "✏️",
        "orange",
        {A.REOPEN: _to(S.IN_REVIEW), A.RESUBMIT: _to(S.SUPERSEDED)},
        phrase="waiting for changes",
    ),
    S.HELD: State(
        "on hold",
        "⏸️",
        "light_grey",
        {A.REOPEN: _to(S.IN_REVIEW), A.VETO: _to(S.REJECTED)},
        queued=True,
    ),
    S.PUBLISHED: State("published", "📺", "dark_green", {}),
    S.SUPERSEDED: State("replaced by a newer version", "🗂️", "dark_grey", {}),
}

# A card shows its buttons in this order.
ACTIONS: dict[ReviewAction, Action] = {
    A.SUBMIT: Action("submitted"),
    A.CLAIM: Action("opened for review"),
    A.APPROVE: Action(
        "approved",
        done="approved",
        decision=True,
        button="Approve",
        style="success",
        form="Approve clip #{}",
    ),
    A.REJECT: Action(
        "rejected",
        done="rejected",
        decision=True,
        reason="Rejecting a clip",
        button="Reject",
        style="danger",
        form="Reject clip #{}",
        failing_checks=True,
    ),
    A.REQUEST_CHANGES: Action(
        "asked for changes",
        done="sent back for changes",
        decision=True,
        reason="Requesting changes",
        button="Request changes",
        style="primary",
        button_id="changes",  # on every card posted so far: keep it
        form="Request changes to clip #{}",
        failing_checks=True,
    ),
    A.HOLD: Action(
        "put on hold",
        done="put on hold",
        decision=True,
        reason="Putting a clip on hold",
        button="Hold",
        form="Put clip #{} on hold",
    ),
    A.PUBLISH: Action(
        "marked published", done="marked published", button="Mark published", style="primary"
    ),
    A.REOPEN: Action(
        "reopened", reason="Reopening a clip", button="Reopen", form="Reopen clip #{}"
    ),
    A.VETO: Action(
        "vetoed",
        done="vetoed",
        decision=True,
        reason="Vetoing a clip",
        button="Veto",
        style="danger",
        form="Veto clip #{}",
        failing_checks=True,
    ),
    A.RESUBMIT: Action(
        "sent a new version",
        done="replaced by a new version",
        refused="only clips that were rejected or sent back for changes can be resubmitted",
    ),
    A.SET_SECRET: Action("changed the recipe's secrecy", keeps_state=True),
}
if set(STATES) != set(ClipStatus) or set(ACTIONS) != set(ReviewAction):
    raise AssertionError("every ClipStatus needs a row in STATES, every ReviewAction in ACTIONS")


# --- derived from the table ------------------------------------------------------------------


# Every check below reads the table when it is called: there is no second copy to go stale.


def leads_to(status: ClipStatus | None, action: ReviewAction | str) -> frozenset[ClipStatus]:
    """Where `action` may take a clip in `status` (None: a new clip); empty if it may not."""
    action = ReviewAction(action)
    if status is None:
        return _to(START) if action == A.SUBMIT else frozenset()
    if ACTIONS[action].keeps_state:
        return _to(status)
    return STATES[status].moves.get(action, frozenset())


def allows(status: ClipStatus, action: ReviewAction | str) -> bool:
    """Whether the table lets `action` happen to a clip in `status`."""
    return bool(leads_to(status, action))


def statuses_allowing(action: ReviewAction) -> frozenset[ClipStatus]:
    return frozenset(status for status in STATES if allows(status, action))


OPEN_STATUSES = statuses_allowing(A.APPROVE)  # waiting for a decision
QUEUE_STATUSES = frozenset(s for s, state in STATES.items() if state.queued)
DECISION_ACTIONS = frozenset(a for a, info in ACTIONS.items() if info.decision)
REASON_REQUIRED = frozenset(a for a, info in ACTIONS.items() if info.reason)
# Where a decision leaves a clip (not counting a partial approval): "time to a first decision".
DECIDED_STATUSES = (
    frozenset(to for a in DECISION_ACTIONS for status in STATES for to in leads_to(status, a))
    - OPEN_STATUSES
)


def button_word(action: ReviewAction) -> str:
    """The word in the action's card button custom_id: `changes` in `review:changes:42`."""
    return ACTIONS[action].button_id or action.value


# The word in a card button's custom_id -> its action; cards posted long ago carry these.
BUTTON_ACTIONS = {button_word(action): action for action, info in ACTIONS.items() if info.button}


def offered_actions(status: ClipStatus, *, streamer_can_veto: bool) -> list[ReviewAction]:
    """The buttons a card in `status` shows, in the table's order.

    Veto only where Reject is not offered (there the streamer's Reject counts as a veto), and
    only when the guild lets its streamer veto.
    """
    offered = [a for a, info in ACTIONS.items() if info.button and allows(status, a)]
    if A.VETO in offered and (A.REJECT in offered or not streamer_can_veto):
        offered.remove(A.VETO)
    return offered


def status_label(status: ClipStatus | str) -> str:
    return STATES[ClipStatus(status)].label


def action_label(action: str) -> str:
    """What the actor did ("asked for changes"); an unknown action (a newer bot's) as stored."""
    info = ACTIONS.get(action)  # a StrEnum key matches its value
    return info.label if info else action


def refusal_text(clip_id: int, status: ClipStatus, action: ReviewAction) -> str | None:
    """The sentence that refuses `action` on a clip in `status`; None when the table allows it.

    Decisions refused because someone decided first are `AlreadyDecided` (it names who): the
    queue raises that instead.
    """
    if allows(status, action):
        return None
    if action == A.REOPEN:
        if status in OPEN_STATUSES:
            return f"Clip #{clip_id} is still open for review; there is nothing to reopen."
        if status == S.PUBLISHED:
            return f"Clip #{clip_id} is already published; it can't be reopened."
        if status == S.SUPERSEDED:
            return f"Clip #{clip_id} was replaced by a newer version; reopen that one instead."
    info = ACTIONS[action]
    only = info.refused or (
        f"only {_either(STATES[s].label for s in ClipStatus if allows(s, action))} clips can be"
        f" {info.done or info.label}"
    )
    return f"Clip #{clip_id} is {STATES[status].is_phrase}; {only}."


def _either(words: Iterable[str]) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def is_legal(
    action: ReviewAction | str, from_state: ClipStatus | None, to_state: ClipStatus
) -> bool:
    return to_state in leads_to(from_state, action)


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

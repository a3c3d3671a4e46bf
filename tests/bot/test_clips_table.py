"""The review card is drawn from the one table in bot/clips/states.py.

A card offers exactly the acts the table allows in the clip's state, with the table's labels;
the custom_ids on cards posted before the table still parse; every status and action word the
bot shows follows the table; and a move added to the table works over the wire, with no other
edit, from the card's button through the queue to the audit trail.
"""

from __future__ import annotations

import dataclasses

import discord
import pytest

from bot.clips import AuditEntry, Clip, ClipStats, ClipStatus, ReviewAction
from bot.clips.errors import AlreadyDecided, ReasonRequired
from bot.clips.states import (
    ACTIONS,
    REASON_REQUIRED,
    STATES,
    allows,
    button_word,
    replay,
)
from bot.exts.clips._options import STATUS_CHOICES
from bot.exts.clips._render import CardState, audit_line, card_embed, clip_line, stats_embed
from bot.exts.clips._views import ApproveModal, ReasonModal, ReviewButton, card_view
from bot.guild_config import GuildConfig
from tests.bot.clip_fixtures import *  # noqa: F403
from tests.bot.clip_fixtures import approve, decide, submit
from tests.bot.conftest import greenroom

S = ClipStatus
A = ReviewAction
STREAMER_ROLE = 5

# What cards showed before the table (bot/exts/clips/_views.py's card_actions, with a streamer
# who may veto): the table must keep drawing the same cards.
CARDS_BEFORE = {
    S.SUBMITTED: ["approve", "reject", "changes", "hold"],
    S.IN_REVIEW: ["approve", "reject", "changes", "hold"],
    S.APPROVED: ["publish", "reopen", "veto"],
    S.REJECTED: ["reopen"],
    S.CHANGES_REQUESTED: ["reopen"],
    S.HELD: ["reopen", "veto"],
    S.PUBLISHED: [],
    S.SUPERSEDED: [],
}
# custom_ids on cards already posted in servers: each must keep doing what it did.
POSTED_BEFORE = {
    "review:approve:42": A.APPROVE,
    "review:reject:42": A.REJECT,
    "review:changes:42": A.REQUEST_CHANGES,
    "review:hold:42": A.HOLD,
    "review:reopen:42": A.REOPEN,
    "review:publish:42": A.PUBLISH,
    "review:veto:42": A.VETO,
}


def clip_in(status: ClipStatus, clip_id: int = 1) -> Clip:
    return Clip(
        id=clip_id,
        guild_id=7,
        submitter_id=11,
        version=1,
        parent_id=None,
        status=status,
        review_round=1,
        title="Neon raid",
        prompt="a neon city",
        tool="Sora 2",
        use="alert",
        notes="",
        settings={},
        sha256=None,
        file_ext=None,
        source_url=None,
        fingerprint=(),
        video=None,
        preflight=(),
        secret=False,
        card_channel_id=None,
        card_message_id=None,
        thread_id=None,
        created_at=1_700_000_000.0,
        updated_at=1_700_000_000.0,
    )


def buttons(clip: Clip, config: GuildConfig) -> list[discord.ui.Button]:
    view = card_view(clip, config)
    return [item.item for item in view.children] if view else []


async def action_of(custom_id: str) -> tuple[ReviewAction, int]:
    match = ReviewButton.__discord_ui_compiled_template__.fullmatch(custom_id)
    assert match is not None, custom_id
    button = await ReviewButton.from_custom_id(None, None, match)  # type: ignore[arg-type]
    return button.action, button.clip_id


@pytest.mark.parametrize("status", list(ClipStatus))
@pytest.mark.parametrize(
    "config",
    [
        GuildConfig(streamer_role=STREAMER_ROLE, streamer_can_veto=True),
        GuildConfig(streamer_role=STREAMER_ROLE, streamer_can_veto=False),
        GuildConfig(streamer_role=None),
    ],
    ids=["streamer-vetoes", "streamer-no-veto", "no-streamer"],
)
async def test_a_card_offers_exactly_what_the_table_allows(
    status: ClipStatus, config: GuildConfig
) -> None:
    shown = buttons(clip_in(status), config)
    offered = [(await action_of(b.custom_id))[0] for b in shown]
    may_veto = bool(config.streamer_role) and config.streamer_can_veto
    with_buttons = [a for a, info in ACTIONS.items() if info.button and allows(status, a)]
    # Every act the table allows here and gives a button is offered, in the table's order;
    # Veto only for a streamer who may, and not beside Reject (the streamer's Reject vetoes).
    assert offered == [
        a for a in with_buttons if a != A.VETO or (may_veto and A.REJECT not in with_buttons)
    ]
    assert all(allows(status, a) for a in offered)
    for button, action in zip(shown, offered, strict=True):
        info = ACTIONS[action]
        assert button.label == info.button
        assert button.style == getattr(discord.ButtonStyle, info.style)
        assert button.custom_id == f"review:{button_word(action)}:1"
    before = [w for w in CARDS_BEFORE[status] if w != "veto" or may_veto]
    assert [b.custom_id for b in shown] == [f"review:{w}:1" for w in before]


async def test_cards_posted_before_the_table_keep_working() -> None:
    for custom_id, action in POSTED_BEFORE.items():
        assert await action_of(custom_id) == (action, 42)
        assert ReviewButton(action, 42).item.custom_id == custom_id  # new cards post the same
    template = ReviewButton.__discord_ui_compiled_template__
    for other in ("review:request_changes:1", "review:page:next:10:::", "review:modal:hold:1:ab"):
        assert template.fullmatch(other) is None, other


def test_the_forms_and_filters_take_the_tables_words() -> None:
    assert [(c.name, c.value) for c in STATUS_CHOICES] == [
        (state.label, status.value) for status, state in STATES.items()
    ]
    assert ApproveModal(3).title == ACTIONS[A.APPROVE].form.format(3)
    for action in REASON_REQUIRED:
        modal = ReasonModal(action, 3)
        assert modal.title == ACTIONS[action].form.format(3)
        asks_failing = any(
            getattr(c.component, "custom_id", "") == "failed" for c in modal.children
        )
        assert asks_failing == ACTIONS[action].failing_checks, action


def test_renaming_a_state_or_an_act_in_the_table_renames_it_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One edit of the table's words: the card, the queue line, the audit trail, the stats, the
    form and the refusals all follow, and the button's custom_id stays what cards carry."""
    monkeypatch.setitem(
        STATES,
        S.HELD,
        dataclasses.replace(STATES[S.HELD], label="paused", icon="🧊", colour="teal"),
    )
    paused = dataclasses.replace(
        ACTIONS[A.HOLD],
        label="paused it",
        done="paused",
        reason="Pausing a clip",
        button="Pause",
        style="success",
        form="Pause clip #{}",
    )
    monkeypatch.setitem(ACTIONS, A.HOLD, paused)

    held = clip_in(S.HELD)
    entry = AuditEntry(1, 1, 7, 21, A.HOLD, S.IN_REVIEW, S.HELD, "sponsor", None, 1.7e9)
    card = card_embed(CardState(held, (), 1, entry, None, None))
    assert card.colour == discord.Colour.teal()
    assert card.fields[0].value.startswith("🧊 Paused by <@21>: sponsor")
    assert "🧊 **#1**" in clip_line(held) and " · paused · " in clip_line(held)
    assert "<@21> paused it (in review → paused): sponsor" in audit_line(entry)
    stats = stats_embed(ClipStats({"held": 2}, None, {21: {"hold": 1}}))
    assert "paused: 2" in stats.fields[0].value and "1 paused it" in stats.fields[2].value

    [*_, hold] = buttons(clip_in(S.IN_REVIEW), GuildConfig())
    assert (hold.label, hold.style, hold.custom_id) == (
        "Pause",
        discord.ButtonStyle.success,
        "review:hold:1",
    )
    assert ReasonModal(A.HOLD, 3).title == "Pause clip #3"
    assert str(ReasonRequired(A.HOLD)).startswith("Pausing a clip needs a reason")
    already = AlreadyDecided(1, S.HELD, 21, A.HOLD, 100.0, now=104.0)
    assert str(already) == "Clip #1 was already paused by user 21 4 s ago."


async def test_a_move_added_to_the_table_works_from_the_card_to_the_audit(
    clip_world, clip_services, media, monkeypatch: pytest.MonkeyPatch
):
    """Let mods put an approved clip on hold: one edit of the approved row, nothing else."""
    approved = STATES[S.APPROVED]
    more = {**approved.moves, A.HOLD: frozenset({S.HELD})}
    monkeypatch.setitem(STATES, S.APPROVED, dataclasses.replace(approved, moves=more))
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        _, reply = await approve(cw, cw.mod, card, 1)
        assert "Approved clip #1." in reply.content
        assert card.custom_ids == [
            "review:hold:1",
            "review:publish:1",
            "review:reopen:1",
            "review:veto:1",
        ]
        _, reply = await decide(cw, cw.mod, card, "hold", 1, "The sponsor wants a look")
        assert "Put clip #1 on hold." in reply.content
        assert "⏸️ On hold" in card.text and card.custom_ids == ["review:reopen:1", "review:veto:1"]
    trail = await services.clips.history(1, cw.guild.id)
    assert [(e.action, e.to_state) for e in trail][-1] == (A.HOLD, S.HELD)
    assert replay((e.action, e.from_state, e.to_state) for e in trail) == S.HELD

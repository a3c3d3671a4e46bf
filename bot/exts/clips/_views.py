"""The review card's buttons and the modals they open; the queue's page buttons.

Buttons are persistent `DynamicItem`s whose custom_id carries the state (`review:approve:42`),
so a card posted before a restart still works: the word in it is the table's `button_id`
(bot/clips/states.py), which never changes. Which buttons a card shows, their labels and the
forms they open come from that table too. Modals live only as long as the process, and each
opening has its own custom_id (see bot/modals.py).
"""

from __future__ import annotations

import re

import discord

from bot.clips import Checklist, Clip
from bot.clips.models import CHECKLIST_LABELS
from bot.clips.states import (
    ACTIONS,
    BUTTON_ACTIONS,
    ReviewAction,
    button_word,
    offered_actions,
)
from bot.errors import report_interaction_error
from bot.guild_config import GuildConfig
from bot.modals import opening_id

A = ReviewAction
REVIEW_COG = "ReviewCog"


def card_actions(clip: Clip, config: GuildConfig) -> list[ReviewAction]:
    """The buttons the table offers in the clip's state (none once nothing is left to do)."""
    can_veto = bool(config.streamer_role) and config.streamer_can_veto
    return offered_actions(clip.status, streamer_can_veto=can_veto)


def card_view(clip: Clip, config: GuildConfig) -> discord.ui.View | None:
    actions = card_actions(clip, config)
    if not actions:
        return None
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ReviewButton(action, clip.id))
    return view


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=rf"review:(?P<action>{'|'.join(map(re.escape, BUTTON_ACTIONS))}):(?P<clip>[0-9]+)",
):
    def __init__(self, action: ReviewAction, clip_id: int) -> None:
        info = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                style=getattr(discord.ButtonStyle, info.style),
                label=info.button,
                custom_id=f"review:{button_word(action)}:{clip_id}",
            )
        )
        self.action = action
        self.clip_id = clip_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ReviewButton:
        return cls(BUTTON_ACTIONS[match["action"]], int(match["clip"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.get_cog(REVIEW_COG).card_button(
                interaction, self.action, self.clip_id
            )
        except Exception as error:
            await report_interaction_error(interaction, error)


def _checklist_select(custom_id: str, placeholder: str) -> discord.ui.Select:
    return discord.ui.Select(
        custom_id=custom_id,
        placeholder=placeholder,
        min_values=0,
        max_values=len(CHECKLIST_LABELS),
        required=False,
        options=[
            discord.SelectOption(label=label, value=name)
            for name, label in CHECKLIST_LABELS.items()
        ],
    )


def checklist_from(passed: list[str], failed: list[str]) -> Checklist:
    """Items marked failing are False (a fail wins over a pass), passing True, the rest None."""
    answers: dict[str, bool | None] = dict.fromkeys(CHECKLIST_LABELS)
    answers.update(dict.fromkeys(passed, True))
    answers.update(dict.fromkeys(failed, False))
    return Checklist.from_dict(answers)


class ApproveModal(discord.ui.Modal):
    """The reviewer's checklist and an optional note; a failing item means: don't approve."""

    def __init__(self, clip_id: int) -> None:
        super().__init__(
            title=ACTIONS[A.APPROVE].form.format(clip_id),
            custom_id=opening_id("review:modal", A.APPROVE, clip_id),
            timeout=900,
        )
        self.clip_id = clip_id
        self.passed = _checklist_select("passed", "Checked and fine")
        self.failed = _checklist_select("failed", "Problems found (then reject instead)")
        self.note = discord.ui.TextInput(
            custom_id="note", style=discord.TextStyle.paragraph, required=False, max_length=500
        )
        self.add_item(
            discord.ui.Label(
                text="Checked and fine",
                description="What you looked at and found OK",
                component=self.passed,
            )
        )
        self.add_item(discord.ui.Label(text="Problems found", component=self.failed))
        self.add_item(discord.ui.Label(text="Note (optional)", component=self.note))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        checklist = checklist_from(list(self.passed.values), list(self.failed.values))
        await interaction.client.get_cog(REVIEW_COG).decide(
            interaction, A.APPROVE, self.clip_id, reason=self.note.value, checklist=checklist
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_interaction_error(interaction, error)


class ReasonModal(discord.ui.Modal):
    """Reject, request changes, hold, reopen and veto all need a reason the creator can act on."""

    def __init__(self, action: ReviewAction, clip_id: int) -> None:
        super().__init__(
            title=ACTIONS[action].form.format(clip_id),
            custom_id=opening_id("review:modal", action, clip_id),
            timeout=900,
        )
        self.action = action
        self.clip_id = clip_id
        self.reason = discord.ui.TextInput(
            custom_id="reason",
            style=discord.TextStyle.paragraph,
            required=True,
            max_length=1000,
            placeholder="What is wrong, so the creator can fix it",
        )
        self.add_item(discord.ui.Label(text="Reason", component=self.reason))
        self.failed: discord.ui.Select | None = None
        if ACTIONS[action].failing_checks:
            self.failed = _checklist_select("failed", "Checklist items that fail (optional)")
            self.add_item(discord.ui.Label(text="Failing checks", component=self.failed))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        checklist = None
        if self.failed is not None and self.failed.values:
            checklist = checklist_from([], list(self.failed.values))
        await interaction.client.get_cog(REVIEW_COG).decide(
            interaction, self.action, self.clip_id, reason=self.reason.value, checklist=checklist
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_interaction_error(interaction, error)


class QueuePageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"review:page:(?P<dir>prev|next):(?P<offset>[0-9]+):(?P<status>[a-z_]*):"
    r"(?P<use>[a-z]*):(?P<tool>.*)",
):
    """◀ / ▶ under /review queue; the filters ride along in the custom_id."""

    def __init__(
        self,
        direction: str,
        offset: int,
        status: str,
        use: str,
        tool: str,
        *,
        disabled: bool = False,
    ) -> None:
        label = "◀ Previous" if direction == "prev" else "Next ▶"
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=label,
                disabled=disabled,
                custom_id=f"review:page:{direction}:{offset}:{status}:{use}:{tool}",
            )
        )
        self.offset = offset
        self.status = status or None
        self.use = use or None
        self.tool = tool or None

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> QueuePageButton:
        return cls(match["dir"], int(match["offset"]), match["status"], match["use"], match["tool"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.get_cog(REVIEW_COG).queue_page(
                interaction, self.offset, self.status, self.tool, self.use
            )
        except Exception as error:
            await report_interaction_error(interaction, error)


def queue_view(
    offset: int,
    page_size: int,
    has_more: bool,
    status: str | None,
    tool: str | None,
    use: str | None,
) -> discord.ui.View | None:
    if offset == 0 and not has_more:
        return None
    filters = (status or "", use or "", tool or "")
    view = discord.ui.View(timeout=None)
    view.add_item(
        QueuePageButton("prev", max(0, offset - page_size), *filters, disabled=offset == 0)
    )
    view.add_item(QueuePageButton("next", offset + page_size, *filters, disabled=not has_more))
    return view

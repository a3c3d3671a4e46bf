"""Mods review clips: the card's buttons and modals, /review queue, show, reopen, publish,
history, log and stats."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.clips import Checklist, ClipStatus, DecisionOutcome, SelfApproval
from bot.clips.states import REASON_REQUIRED, ReviewAction, status_label
from bot.errors import UserFacingError
from bot.exts.clips._options import (
    STATUS_CHOICES,
    TOOL_CHOICES,
    USE_FILTER_CHOICES,
    ClipOption,
    use_label,
)
from bot.exts.clips._render import (
    audit_line,
    card_embed,
    card_link,
    lines_embed,
    queue_embed,
    stats_embed,
)
from bot.exts.clips._service import GreenRoom, policy_for
from bot.exts.clips._views import ApproveModal, ReasonModal, card_view, queue_view
from bot.guild_config import GuildConfig
from bot.permissions import ensure_mod, ensure_reviewer, is_streamer, member_of

S = ClipStatus
A = ReviewAction
PAGE_SIZE = 10


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class ReviewCog(
    commands.GroupCog, group_name="review", group_description="Review the AI clips members sent"
):
    def __init__(self, bot, room: GreenRoom) -> None:
        self.bot = bot
        self.services = bot.services
        self.room = room
        super().__init__()

    async def _reviewer(
        self, interaction: discord.Interaction
    ) -> tuple[discord.Member, GuildConfig]:
        member = member_of(interaction)
        config = await self.room.config(interaction.guild_id)
        ensure_reviewer(member, config)
        return member, config

    async def _mod(
        self, interaction: discord.Interaction, what: str
    ) -> tuple[discord.Member, GuildConfig]:
        member = member_of(interaction)
        config = await self.room.config(interaction.guild_id)
        ensure_mod(member, config, what)
        return member, config

    async def _actor(
        self, interaction: discord.Interaction, action: ReviewAction
    ) -> tuple[discord.Member, GuildConfig]:
        """Mods reopen and publish, the streamer vetoes, reviewers (mods, streamer) decide."""
        if action in (A.REOPEN, A.PUBLISH):
            what = "reopen clips" if action == A.REOPEN else "mark clips published"
            return await self._mod(interaction, what)
        member, config = await self._reviewer(interaction)
        if action == A.VETO and not is_streamer(member, config):
            raise UserFacingError("Only the streamer can veto a clip. Nothing was changed.")
        return member, config

    # -- the card ---------------------------------------------------------------------------
    async def card_button(
        self, interaction: discord.Interaction, action: ReviewAction, clip_id: int
    ) -> None:
        """A button on a card: check who and whether it still applies, then ask for details."""
        member, _config = await self._actor(interaction, action)
        clip = await self.services.clips.get(clip_id, interaction.guild_id)
        if refused := await self.services.clips.refusal(clip, action):
            raise refused  # the queue's own answer, before a form is filled in for nothing
        if action == A.APPROVE:
            if member.id == clip.submitter_id:
                raise SelfApproval(clip.id)
            await interaction.response.send_modal(ApproveModal(clip.id))
        elif action in REASON_REQUIRED:
            await interaction.response.send_modal(ReasonModal(action, clip.id))
        else:
            await self.decide(interaction, action, clip_id)

    async def decide(
        self,
        interaction: discord.Interaction,
        action: ReviewAction,
        clip_id: int,
        *,
        reason: str = "",
        checklist: Checklist | None = None,
    ) -> None:
        """One review act, decided by the queue; then the card, the submitter and the rest."""
        member, config = await self._actor(interaction, action)
        await interaction.response.defer(ephemeral=True, thinking=True)
        queue, guild_id, policy = self.services.clips, interaction.guild_id, policy_for(config)
        outcome: DecisionOutcome | None = None
        if action == A.REOPEN:
            clip = await queue.reopen(clip_id, guild_id, member.id, reason)
        elif action == A.PUBLISH:
            clip = await queue.mark_published(clip_id, guild_id, member.id)
        else:
            outcome = await queue.decide(
                action,
                clip_id,
                guild_id,
                member.id,
                reason,
                policy=policy,
                checklist=checklist,
                is_streamer=is_streamer(member, config),
            )
            clip = outcome.clip
        lines = await self.room.after_change(
            interaction.guild, clip, action, member.id, reason, outcome
        )
        await interaction.followup.send("\n".join(lines), ephemeral=True)

    # -- /review commands -----------------------------------------------------------------
    @app_commands.command(name="queue", description="Clips waiting for review, oldest first")
    @app_commands.describe(status="Only clips in this state (default: waiting, in review, held)")
    @app_commands.choices(status=STATUS_CHOICES, tool=TOOL_CHOICES, use=USE_FILTER_CHOICES)
    async def queue(
        self,
        interaction: discord.Interaction,
        status: str | None = None,
        tool: str | None = None,
        use: str | None = None,
    ) -> None:
        await self._reviewer(interaction)
        embed, view = await self._queue_page(interaction.guild_id, 0, status, tool, use)
        await interaction.response.send_message(
            embed=embed, **({"view": view} if view else {}), ephemeral=True
        )

    async def queue_page(
        self,
        interaction: discord.Interaction,
        offset: int,
        status: str | None,
        tool: str | None,
        use: str | None,
    ) -> None:
        await self._reviewer(interaction)
        embed, view = await self._queue_page(interaction.guild_id, offset, status, tool, use)
        await interaction.response.edit_message(embed=embed, view=view)

    async def _queue_page(
        self, guild_id: int, offset: int, status: str | None, tool: str | None, use: str | None
    ) -> tuple[discord.Embed, discord.ui.View | None]:
        clips = await self.services.clips.queue(
            guild_id, status=status, tool=tool, use=use, limit=PAGE_SIZE + 1, offset=offset
        )
        has_more = len(clips) > PAGE_SIZE
        shown = [status_label(status) if status else "waiting for mods"]
        if tool:
            shown.append(tool)
        if use:
            shown.append(use_label(use))
        embed = queue_embed(clips[:PAGE_SIZE], offset=offset, filters=" · ".join(shown))
        return embed, queue_view(offset, PAGE_SIZE, has_more, status, tool, use)

    @app_commands.command(name="requests", description="Open and accepted Twitch cameo requests")
    async def requests(self, interaction: discord.Interaction) -> None:
        await self._mod(interaction, "see the cameo requests")
        twitch = self.bot.get_cog("TwitchCog")
        if twitch is None or twitch.store is None:
            raise UserFacingError("Twitch cameo requests are not on here.")
        await twitch.requests_page(interaction, 0)

    @app_commands.command(name="show", description="Show a clip's review card here")
    async def show(self, interaction: discord.Interaction, clip: ClipOption) -> None:
        member, config = await self._reviewer(interaction)
        found = await self.services.clips.get(clip, interaction.guild_id)
        if found.status == S.SUBMITTED and member.id != found.submitter_id:
            found = await self.services.clips.claim(found.id, found.guild_id, member.id)
            await self.room.refresh_card(interaction.guild, found.id)
        state = await self.room.card_state(found, config, interaction.guild.filesize_limit)
        link = card_link(found)
        view = card_view(found, config)
        await interaction.response.send_message(
            f"The card: {link}" if link else "This clip has no card in the review channel.",
            embed=card_embed(state),
            **({"view": view} if view else {}),
            ephemeral=True,
        )

    @app_commands.command(name="reopen", description="Undo a decision: back to review")
    @app_commands.describe(reason="Why it needs another look (the creator is told)")
    async def reopen(
        self,
        interaction: discord.Interaction,
        clip: ClipOption,
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        await self.decide(interaction, A.REOPEN, clip, reason=reason)

    @app_commands.command(name="publish", description="Mark an approved clip as used on stream")
    async def publish(self, interaction: discord.Interaction, clip: ClipOption) -> None:
        await self.decide(interaction, A.PUBLISH, clip)

    @app_commands.command(name="history", description="Everything that happened to a clip")
    async def history(self, interaction: discord.Interaction, clip: ClipOption) -> None:
        await self._reviewer(interaction)
        entries = await self.services.clips.history(clip, interaction.guild_id)
        embed = lines_embed(
            f"History of clip #{clip}", [audit_line(e) for e in entries], "Nothing yet."
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="log", description="A member's clips and review acts")
    async def log(self, interaction: discord.Interaction, user: discord.User) -> None:
        await self._reviewer(interaction)
        entries = await self.services.clips.log_for_user(interaction.guild_id, user.id)
        embed = lines_embed(
            f"Clip log of {user.display_name}",
            [audit_line(e) for e in reversed(entries)],  # newest first from the queue
            "No clips and no review acts.",
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="stats", description="Clips by state, decision times, reviewers")
    async def stats(self, interaction: discord.Interaction) -> None:
        await self._reviewer(interaction)
        stats = await self.services.clips.stats(interaction.guild_id)
        await interaction.response.send_message(embed=stats_embed(stats), ephemeral=True)

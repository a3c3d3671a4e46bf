"""The green room's Discord side shared by /clip and /review: review cards and what follows a
review act (the showcase, the recipe in the knowledge base). Who may do what is in
`bot.permissions`; the message texts and the DMs in `_messages`; the recipe in `_recipes`."""

from __future__ import annotations

import asyncio
import logging
import weakref
from pathlib import Path

import discord

from bot.clips import (
    Checklist,
    Clip,
    ClipStatus,
    DecisionOutcome,
    ReviewAction,
    ReviewPolicy,
)
from bot.clips.errors import format_size
from bot.errors import UserFacingError
from bot.exts.clips._intake import ClipIntake
from bot.exts.clips._messages import Messenger, done_text, told_text
from bot.exts.clips._recipes import recipe_doc_id, recipe_document
from bot.exts.clips._render import CardState, card_embed
from bot.exts.clips._views import card_view
from bot.guild_config import GuildConfig
from bot.render import shorten

log = logging.getLogger(__name__)

S = ClipStatus
A = ReviewAction
THREAD_ARCHIVE_MINUTES = 10080  # a week: reviews can take a while


def policy_for(config: GuildConfig) -> ReviewPolicy:
    return ReviewPolicy(
        approvals_required=max(1, config.approvals_required),
        streamer_role_can_veto=config.streamer_can_veto,
    )


class GreenRoom:
    """Shared by both cogs; holds no state of its own beyond locks (the queue is in SQLite)."""

    def __init__(self, bot) -> None:
        self.bot = bot
        self.services = bot.services
        self.intake = ClipIntake(bot.services)
        self.messenger = Messenger(bot)
        self._card_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def config(self, guild_id: int) -> GuildConfig:
        return await self.services.guild_configs.get(guild_id)

    def review_channel(self, guild: discord.Guild, config: GuildConfig) -> discord.TextChannel:
        if config.review_channel is None:
            raise UserFacingError(
                "Clip reviews aren't set up here yet: an admin needs to run"
                " `/greenroom setup review-channel` first. Nothing was sent."
            )
        channel = guild.get_channel(config.review_channel)
        if not isinstance(channel, discord.TextChannel):
            raise UserFacingError(
                "The review channel is gone: an admin needs to run"
                " `/greenroom setup review-channel` again. Nothing was sent."
            )
        return channel

    # --- the card ------------------------------------------------------------------------

    async def card_state(self, clip: Clip, config: GuildConfig, limit: int) -> CardState:
        queue = self.services.clips
        decisions = [
            d
            for d in await queue.decisions(clip.id, clip.guild_id)
            if d.review_round == clip.review_round
        ]
        answers: dict[str, bool | None] = {}
        for decision in decisions:  # oldest first: a later answer overrides an earlier one
            answers.update({k: v for k, v in decision.checklist.to_dict().items() if v is not None})
        return CardState(
            clip=clip,
            approvers=await queue.approvers(clip.id, clip.guild_id),
            approvals_required=policy_for(config).approvals_required,
            entry=await queue.last_entry_to(clip.id, clip.status),
            checklist=Checklist.from_dict(answers) if answers else None,
            file_note=await self._file_note(clip, limit),
        )

    async def _stored_file(self, clip: Clip) -> tuple[Path, int] | None:
        if not clip.sha256:
            return None

        def find() -> tuple[Path, int] | None:
            path = self.services.clip_store.find(clip.sha256)
            return (path, path.stat().st_size) if path else None

        return await asyncio.to_thread(find)

    async def _file_note(self, clip: Clip, limit: int) -> str | None:
        stored = await self._stored_file(clip)
        if stored is not None and stored[1] <= limit:
            return None  # attached to the card
        where = f"the original link: {clip.source_url}" if clip.source_url else "no public link"
        if stored is None:
            return f"The file is missing from the clip store; {where}."
        return (
            f"{format_size(stored[1])}, too large to attach here; {where}. The stored copy is"
            " in `greenroom clips export`."
        )

    async def clip_file(self, clip: Clip, limit: int) -> discord.File | None:
        stored = await self._stored_file(clip)
        if stored is None or stored[1] > limit:
            return None
        return discord.File(stored[0], filename=f"clip-{clip.id}{stored[0].suffix}")

    async def post_card(
        self, channel: discord.TextChannel, clip: Clip, config: GuildConfig
    ) -> discord.Message:
        """Post the review card with the clip, open its discussion thread, remember both."""
        limit = channel.guild.filesize_limit
        state = await self.card_state(clip, config, limit)
        file = await self.clip_file(clip, limit)
        try:
            message = await channel.send(
                embed=card_embed(state),
                view=card_view(clip, config),
                **({"file": file} if file else {}),
            )
        except discord.HTTPException as exc:
            log.warning("could not post the card of clip %s", clip.id, exc_info=True)
            raise UserFacingError(
                f"Clip #{clip.id} is in the review queue, but I couldn't post its card in"
                f" {channel.mention} ({exc.text or exc.status}). An admin should check my"
                f" permissions there; mods can open it with `/review show clip:{clip.id}`."
            ) from exc
        thread_id = None
        try:
            thread = await message.create_thread(
                name=shorten(f"Clip #{clip.id}: {' '.join(clip.title.split())}", 100),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
            thread_id = thread.id
        except discord.HTTPException:
            log.info("could not open a thread for clip %s", clip.id, exc_info=True)
        await self.services.clips.set_card(
            clip.id,
            clip.guild_id,
            channel_id=channel.id,
            message_id=message.id,
            thread_id=thread_id,
        )
        return message

    async def refresh_card(self, guild: discord.Guild, clip_id: int) -> None:
        """Show the clip's current state on its card; edits of one card never interleave."""
        lock = self._card_locks.get(clip_id)
        if lock is None:
            lock = self._card_locks[clip_id] = asyncio.Lock()
        async with lock:
            clip = await self.services.clips.get(clip_id, guild.id)  # fresh, inside the lock
            if not clip.card_channel_id or not clip.card_message_id:
                return
            config = await self.config(guild.id)
            state = await self.card_state(clip, config, guild.filesize_limit)
            channel = self.bot.get_partial_messageable(clip.card_channel_id, guild_id=guild.id)
            try:
                await channel.get_partial_message(clip.card_message_id).edit(
                    embed=card_embed(state), view=card_view(clip, config)
                )
            except discord.HTTPException:
                log.warning("could not update the card of clip %s", clip.id, exc_info=True)

    # --- after a decision ----------------------------------------------------------------

    async def showcase(self, guild: discord.Guild, clip: Clip, config: GuildConfig) -> str | None:
        if config.showcase_channel is None:
            return None
        channel = guild.get_channel(config.showcase_channel)
        if not isinstance(channel, discord.TextChannel):
            return "The showcase channel is gone; an admin can set it again."
        embed = discord.Embed(
            title=shorten(" ".join(clip.title.split()), 256),
            description=f"By <@{clip.submitter_id}> · made with {clip.tool or 'an AI tool'}",
            colour=discord.Colour.green(),
        )
        embed.set_footer(text="AI-generated · approved by the mods")
        file = await self.clip_file(clip, guild.filesize_limit)
        try:
            await channel.send(embed=embed, **({"file": file} if file else {}))
        except discord.HTTPException:
            log.warning("could not post clip %s in the showcase", clip.id, exc_info=True)
            return f"I couldn't post in {channel.mention}: check my permissions there."
        return f"Posted in {channel.mention}."

    async def publish_recipe(self, clip: Clip) -> str:
        await self.services.add_documents(clip.guild_id, [recipe_document(clip)])
        if clip.secret:
            return "The recipe is secret: the notes only say that the streamer keeps it secret."
        return "Recipe added to the notes: `/ask` can now answer how it was made."

    async def withdraw_recipe(self, clip: Clip) -> None:
        await self.services.remove_documents(clip.guild_id, [recipe_doc_id(clip)])

    async def after_change(
        self,
        guild: discord.Guild,
        clip: Clip,
        action: ReviewAction,
        actor_id: int,
        reason: str = "",
        outcome: DecisionOutcome | None = None,
    ) -> list[str]:
        """Card, submitter, showcase and recipe after a review act; lines for the reviewer."""
        if outcome is not None:
            action = ReviewAction(outcome.action)  # a streamer's reject may be recorded as a veto
        config = await self.config(guild.id)
        await self.refresh_card(guild, clip.id)
        partial = action == A.APPROVE and clip.status != S.APPROVED
        if partial:
            assert outcome is not None
            missing = outcome.approvals_missing
            return [
                f"Approval counted: clip #{clip.id} has {len(outcome.approvals)} of"
                f" {outcome.approvals_required}; it needs {missing} more from other mods."
            ]
        lines = [done_text(action, clip.id)]
        told = told_text(clip, action, guild.name, actor_id, reason)
        if actor_id != clip.submitter_id:  # a mod deciding on their own clip knows already
            lines.append(await self.messenger.notify_submitter(clip, told))
        if action == A.APPROVE:
            lines.append(await self.showcase(guild, clip, config))
            lines.append(await self.publish_recipe(clip))
        elif action in (A.REOPEN, A.VETO):
            await self.withdraw_recipe(clip)  # no longer approved: fans shouldn't hear of it
        lines += await self.settle_requests(clip, actor_id, reason)
        return [line for line in lines if line]

    async def settle_requests(self, clip: Clip, actor_id: int, reason: str) -> list[str]:
        """The Twitch cameo requests this clip fulfils: fulfilled when it is approved, back in
        the cameo queue when it is rejected. A failure here leaves the review as decided: the
        Twitch cog's maintenance settles them later."""
        twitch = self.bot.get_cog("TwitchCog")
        if twitch is None or twitch.store is None:
            return []
        try:
            return await twitch.clip_decided(clip.guild_id, clip.id, actor_id, reason)
        except Exception:
            log.exception("could not settle the cameo requests of clip %s", clip.id)
            return ["I couldn't update its cameo request yet; I'll try again."]

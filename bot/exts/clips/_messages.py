"""What the submitter and the reviewer are told after a review act, and how: a DM to the
submitter, or a mention in the card's thread when their DMs are closed."""

from __future__ import annotations

import logging

import discord

from bot.clips import Clip, ReviewAction
from bot.render import shorten

log = logging.getLogger(__name__)

A = ReviewAction

_TOLD = {
    A.APPROVE: "🎉 Your clip #{id} “{title}” was approved in **{guild}**.",
    A.REJECT: "Your clip #{id} “{title}” was rejected in **{guild}** by {actor}.",
    A.VETO: "Your clip #{id} “{title}” was vetoed by the streamer in **{guild}**.",
    A.REQUEST_CHANGES: "The mods in **{guild}** asked for changes to your clip #{id} “{title}”.",
    A.HOLD: "Your clip #{id} “{title}” was put on hold in **{guild}** by {actor}.",
    A.REOPEN: "Your clip #{id} “{title}” was reopened for review in **{guild}** by {actor}.",
    A.PUBLISH: "📺 Your clip #{id} “{title}” was marked as used on stream in **{guild}**.",
}
_NEXT_STEP = {
    A.REJECT: "You can send a new version with `/clip resubmit clip:{id}`.",
    A.REQUEST_CHANGES: "Send the new version with `/clip resubmit clip:{id}`.",
}
_DONE = {
    A.APPROVE: "Approved clip #{id}.",
    A.REJECT: "Rejected clip #{id}.",
    A.VETO: "Vetoed clip #{id}.",
    A.REQUEST_CHANGES: "Sent clip #{id} back for changes.",
    A.HOLD: "Put clip #{id} on hold.",
    A.REOPEN: "Reopened clip #{id} for review.",
    A.PUBLISH: "Marked clip #{id} published.",
}


def done_text(action: ReviewAction, clip_id: int) -> str:
    """The reviewer's confirmation of a decision."""
    return _DONE[action].format(id=clip_id)


def told_text(clip: Clip, action: ReviewAction, guild_name: str, actor_id: int, reason: str) -> str:
    """The submitter's message about a decision, with the reason and the next step."""
    told = _TOLD[action].format(
        id=clip.id,
        title=shorten(" ".join(clip.title.split()), 80),
        guild=guild_name,
        actor=f"<@{actor_id}>",
    )
    if reason.strip():
        label = "Note" if action == A.APPROVE else "Reason"
        told += f"\n{label}: {shorten(reason.strip(), 1000)}"
    if step := _NEXT_STEP.get(action):
        told += "\n" + step.format(id=clip.id)
    return told


class Messenger:
    """Posts in a clip's review thread and tells its submitter."""

    def __init__(self, bot) -> None:
        self.bot = bot

    async def thread(self, clip: Clip) -> discord.Thread | None:
        if clip.thread_id is None:
            return None
        guild = self.bot.get_guild(clip.guild_id)
        thread = guild.get_thread(clip.thread_id) if guild else None
        if thread is None:
            try:
                thread = await self.bot.fetch_channel(clip.thread_id)
            except discord.HTTPException:
                return None
        return thread if isinstance(thread, discord.Thread) else None

    async def say_in_thread(self, clip: Clip, text: str) -> None:
        thread = await self.thread(clip)
        if thread is not None:
            try:
                await thread.send(text)
            except discord.HTTPException:
                log.info("could not post in the thread of clip %s", clip.id, exc_info=True)

    async def notify_submitter(self, clip: Clip, text: str) -> str:
        """DM the submitter; if their DMs are closed, mention them in the card's thread."""
        user = discord.Object(id=clip.submitter_id)
        try:
            dm = await self.bot.create_dm(user)
            await dm.send(text)
            return f"Told <@{clip.submitter_id}> by DM."
        except discord.Forbidden:
            pass
        except discord.HTTPException:
            log.warning("could not DM the submitter of clip %s", clip.id, exc_info=True)
        thread = await self.thread(clip)
        if thread is not None:
            try:
                await thread.send(
                    shorten(f"<@{clip.submitter_id}> {text}", 2000),
                    allowed_mentions=discord.AllowedMentions(users=[user]),  # only them
                )
                return (
                    f"<@{clip.submitter_id}>'s DMs are closed, so I mentioned them in the"
                    " card's thread."
                )
            except discord.HTTPException:
                log.info("could not post in the thread of clip %s", clip.id, exc_info=True)
        return (
            f"I couldn't reach <@{clip.submitter_id}>: their DMs are closed and there's no thread."
        )

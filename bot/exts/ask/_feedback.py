"""👍, 👎 and "N answered it": ratings for the gap list, and confirmations for learned answers.

The asker knows whether a passage answered their question, and a mod's word counts at once, so
only their clicks confirm or undo a learned answer (knowledge/learned.py: a fan's confirmation
waits for a second fan); anyone else's click is a rating only.
"""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.errors import UserFacingError
from bot.permissions import is_mod, member_of
from bot.question_log import LoggedQuestion
from knowledge import ANSWER, SUGGEST, LearnedEntry


def learned_note(entry: LearnedEntry | None) -> str:
    """What a confirmation changed, told to whoever confirmed."""
    if entry is None:
        return ""
    if entry.active:
        return " I'll answer questions like this one with that passage from now on."
    return " Once another fan confirms it too, I'll answer questions like this one with it."


class FeedbackCog(commands.Cog):
    def __init__(self, bot) -> None:
        self.bot = bot
        self.services = bot.services

    async def _logged(self, interaction: discord.Interaction, question_id: int) -> LoggedQuestion:
        logged = await self.services.questions.get(question_id)
        if logged is None or logged.guild_id != interaction.guild_id:
            raise UserFacingError("I can't find that answer any more.")
        return logged

    async def _vouch(
        self, interaction: discord.Interaction, logged: LoggedQuestion
    ) -> tuple[discord.Member, bool, bool]:
        """The member, whether their click confirms or undoes, and whether as a mod."""
        member = member_of(interaction)
        config = await self.services.guild_configs.get(interaction.guild_id)
        by_mod = is_mod(member, config)
        return member, by_mod or member.id == logged.user_id, by_mod

    async def _confirm(
        self, logged: LoggedQuestion, chunk_id: str, member: discord.Member, by_mod: bool
    ) -> LearnedEntry | None:
        return await self.services.confirm(
            logged.guild_id,
            logged.searched,
            chunk_id,
            member.id,
            by_mod=by_mod,
            question_id=logged.id,
        )

    async def rate(self, interaction: discord.Interaction, question_id: int, vote: int) -> None:
        logged = await self._logged(interaction, question_id)
        member, vouches, by_mod = await self._vouch(interaction, logged)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.services.questions.rate(question_id, member.id, vote)
        if vote > 0:
            entry = None
            if vouches and logged.mode == ANSWER and logged.shown_chunks:
                entry = await self._confirm(logged, logged.shown_chunks[0], member, by_mod)
            text = "Thanks! Glad it helped." + learned_note(entry)
        else:
            forgot = False
            if vouches:
                # The learned answer shown here, and whatever a 👍 on this answer confirmed.
                for entry_id in {logged.learned_id, logged.confirmed_id} - {None}:
                    forgot = await self.services.refute(logged.guild_id, entry_id) or forgot
            text = "Thanks, noted. The mods will see this question and can improve the notes."
            if forgot:
                text += " I won't answer questions like this one with that passage any more."
        await interaction.followup.send(text, ephemeral=True)

    async def pick(self, interaction: discord.Interaction, question_id: int, number: int) -> None:
        """ "N answered it" under a suggestion: positive feedback, and a confirmation."""
        logged = await self._logged(interaction, question_id)
        if logged.mode != SUGGEST or not 1 <= number <= len(logged.shown_chunks):
            raise UserFacingError("I can't find that suggestion any more.")
        member, vouches, by_mod = await self._vouch(interaction, logged)
        chunk_id = logged.shown_chunks[number - 1]
        await interaction.response.defer(ephemeral=True, thinking=True)
        entry = None
        if vouches:
            earlier = await self._earlier_pick(logged)
            if earlier is not None and earlier != number:
                raise UserFacingError(
                    f"Suggestion {earlier} was already confirmed as the answer to this question;"
                    " a mod can undo that with `/kb learned remove`. Nothing was changed."
                )
            entry = await self._confirm(logged, chunk_id, member, by_mod)
        await self.services.questions.rate(question_id, member.id, 1)
        await interaction.followup.send(
            f"Thanks! Glad suggestion {number} answered it." + learned_note(entry), ephemeral=True
        )

    async def _earlier_pick(self, logged: LoggedQuestion) -> int | None:
        """The suggestion an earlier confirmation of this question chose, if it still stands."""
        if logged.confirmed_id is None:
            return None
        entry = await self.services.learned_entry(logged.guild_id, logged.confirmed_id)
        if entry is None or entry.chunk_id not in logged.shown_chunks:
            return None
        return logged.shown_chunks.index(entry.chunk_id) + 1

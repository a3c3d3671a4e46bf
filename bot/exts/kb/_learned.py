"""`/kb learned list|remove`: the questions this server confirmed as answered by a passage.

A mixin of `KnowledgeCog` (like `_sources.py`). Each server's entries live in its own knowledge
base, so an id only ever reaches the entries of the server it is used in.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.permissions import is_mod
from bot.render import escape, shorten
from knowledge import FAN_AGREEMENT, LearnedEntry

LISTED = 20  # entries listed, newest first


def entry_target(entry: LearnedEntry) -> str:
    return f"{entry.title} › {entry.heading}" if entry.heading else entry.title


def describe_entry(entry: LearnedEntry) -> str:
    votes = []
    if entry.mod_votes:
        votes.append(f"{entry.mod_votes} mod" + ("s" if entry.mod_votes > 1 else ""))
    if entry.fan_votes:
        votes.append(f"{entry.fan_votes} fan" + ("s" if entry.fan_votes > 1 else ""))
    state = (
        "active"
        if entry.active
        else f"waiting for {FAN_AGREEMENT - entry.fan_votes} more fan(s) to confirm"
    )
    return (
        f"**#{entry.id}** “{escape(shorten(entry.question, 120))}” → "
        f"{escape(shorten(entry_target(entry), 120))}\n  {' · '.join(votes)} · {state}"
    )


class LearnedCommands:
    """The `/kb learned` group; expects `self.services` and `self._mod` (the cog)."""

    learned = app_commands.Group(
        name="learned", description="Questions confirmed as answered by a passage of the notes"
    )

    @learned.command(name="list", description="Learned answers, newest first, with their votes")
    async def learned_list(self, interaction: discord.Interaction) -> None:
        await self._mod(interaction, "see the learned answers")
        entries = await self.services.learned_entries(interaction.guild_id)
        embed = discord.Embed(title="Learned answers", colour=discord.Colour.blurple())
        if not entries:
            embed.description = (
                "Nothing learned yet. A fan's 👍 or “answered it”, a mod's “Answer from notes”"
                " and “Answer & add to notes” teach me which passage answers a question."
            )
        else:
            lines = [describe_entry(e) for e in entries[:LISTED]]
            more = len(entries) - LISTED
            if more > 0:
                lines.append(f"… and {more} older")
            embed.description = shorten("\n".join(lines), 4000)
            embed.set_footer(text="/kb learned remove id: forgets one")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @learned.command(name="remove", description="Forget a learned answer")
    @app_commands.describe(entry_id="The learned answer's number (start typing its question)")
    @app_commands.rename(entry_id="id")
    async def learned_remove(self, interaction: discord.Interaction, entry_id: int) -> None:
        await self._mod(interaction, "remove learned answers")
        entry = await self.services.learned_entry(interaction.guild_id, entry_id)
        if not await self.services.refute(interaction.guild_id, entry_id):
            raise UserFacingError(
                f"There is no learned answer #{entry_id} on this server;"
                " `/kb learned list` shows them. Nothing was changed."
            )
        what = (
            f" (“{escape(shorten(entry.question, 200))}” → {escape(entry_target(entry))})"
            if entry is not None
            else ""
        )
        await interaction.response.send_message(
            shorten(f"Forgot learned answer #{entry_id}{what}.", 2000), ephemeral=True
        )

    @learned_remove.autocomplete("entry_id")
    async def _entry_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        config = await self.services.guild_configs.get(interaction.guild_id)
        if not isinstance(interaction.user, discord.Member) or not is_mod(interaction.user, config):
            return []  # the questions fans asked are listed to mods only
        entries = await self.services.learned_entries(interaction.guild_id)
        current = current.lower().lstrip("#")
        return [
            app_commands.Choice(
                name=shorten(f"#{e.id} {e.question} → {entry_target(e)}", 100), value=e.id
            )
            for e in entries
            if current in f"{e.id} {e.question.lower()}"
        ][:25]

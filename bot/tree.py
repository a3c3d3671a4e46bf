"""The command tree: app-command errors are handled here and only here."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import report_interaction_error


class GreenroomTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_interaction_error(interaction, error)

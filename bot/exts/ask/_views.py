"""Buttons under an answer (👍, 👎, Ask a mod): persistent, their custom_id carries the state."""

from __future__ import annotations

import logging
import re

import discord

from bot.errors import report_interaction_error

log = logging.getLogger(__name__)

ACTIONS = {
    "up": ("👍", discord.ButtonStyle.secondary, None),
    "down": ("👎", discord.ButtonStyle.secondary, None),
    "mod": (None, discord.ButtonStyle.primary, "Ask a mod"),
}


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"answer:(?P<action>up|down|mod):(?P<qid>[0-9]+)",
):
    def __init__(self, action: str, question_id: int) -> None:
        emoji, style, label = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                style=style, emoji=emoji, label=label, custom_id=f"answer:{action}:{question_id}"
            )
        )
        self.action = action
        self.question_id = question_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> AnswerButton:
        return cls(match["action"], int(match["qid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            cog = interaction.client.get_cog("AskCog")
            if self.action == "mod":
                await cog.ask_a_mod(interaction, self.question_id)
            else:
                await cog.rate(interaction, self.question_id, 1 if self.action == "up" else -1)
        except Exception as error:
            await report_interaction_error(interaction, error)


def answer_view(question_id: int, *, abstained: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if not abstained:
        view.add_item(AnswerButton("up", question_id))
        view.add_item(AnswerButton("down", question_id))
    view.add_item(AnswerButton("mod", question_id))
    return view

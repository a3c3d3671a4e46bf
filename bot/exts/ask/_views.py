"""Buttons under an answer, one set per tier; persistent, their custom_id carries the state.

answer: 👍 👎 Ask a mod · suggest: "N answered it" per suggestion, Ask a mod · decline: Ask a mod.
What each number points at is in the question log, so a card works after a restart.
"""

from __future__ import annotations

import logging
import re

import discord

from bot.errors import report_interaction_error
from knowledge import ANSWER, SUGGEST, Answer

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
            if self.action == "mod":
                await interaction.client.get_cog("AskCog").ask_a_mod(interaction, self.question_id)
            else:
                await interaction.client.get_cog("FeedbackCog").rate(
                    interaction, self.question_id, 1 if self.action == "up" else -1
                )
        except Exception as error:
            await report_interaction_error(interaction, error)


class PickButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"answer:pick:(?P<qid>[0-9]+):(?P<n>[1-9])",
):
    """ "N answered it" under suggestion N (counted from 1)."""

    def __init__(self, question_id: int, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.success,
                label=f"{number} answered it",
                custom_id=f"answer:pick:{question_id}:{number}",
            )
        )
        self.question_id = question_id
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> PickButton:
        return cls(int(match["qid"]), int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.get_cog("FeedbackCog").pick(
                interaction, self.question_id, self.number
            )
        except Exception as error:
            await report_interaction_error(interaction, error)


def answer_view(question_id: int, answer: Answer) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if answer.mode == ANSWER:
        view.add_item(AnswerButton("up", question_id))
        view.add_item(AnswerButton("down", question_id))
    elif answer.mode == SUGGEST:
        for number in range(1, len(answer.suggestions) + 1):
            view.add_item(PickButton(question_id, number))
    view.add_item(AnswerButton("mod", question_id))
    return view

"""The knowledge-gap loop's button and modal: a mod answers, the fan hears, the notes learn."""

from __future__ import annotations

import re

import discord

from bot.errors import report_interaction_error
from bot.modals import opening_id
from bot.render import shorten

GAP_MODAL_TIMEOUT_S = 3600  # writing an answer for the notes can take a while


class GapAnswerButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"gap:answer:(?P<qid>[0-9]+)"
):
    def __init__(self, question_id: int, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.primary,
                label=label or f"Answer #{question_id}",
                custom_id=f"gap:answer:{question_id}",
            )
        )
        self.question_id = question_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> GapAnswerButton:
        return cls(int(match["qid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.get_cog("KnowledgeCog").open_gap_modal(
                interaction, self.question_id
            )
        except Exception as error:
            await report_interaction_error(interaction, error)


class GapAnswerModal(discord.ui.Modal):
    def __init__(self, question_id: int, question: str) -> None:
        super().__init__(
            title="Answer & add to notes",
            custom_id=opening_id("gap:modal", question_id),
            timeout=GAP_MODAL_TIMEOUT_S,
        )
        self.question_id = question_id
        self.question = question
        # Built here, with the question in its label (setting a label afterwards is deprecated).
        self.answer = discord.ui.TextInput(
            label=_label(question),
            style=discord.TextStyle.paragraph,
            custom_id="answer",
            max_length=1800,
            placeholder="Written for fans; it is added to the notes as it is.",
        )
        self.add_item(self.answer)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.client.get_cog("KnowledgeCog").submit_gap_answer(
            interaction, self.question_id, self.answer.value
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_interaction_error(interaction, error)


def _label(question: str) -> str:
    text = f"Answer: {question}"
    return shorten(text, 45)

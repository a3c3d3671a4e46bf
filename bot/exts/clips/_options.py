"""Slash-command options shared by /clip and /review: tools, uses, states and clip ids."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.clips import CLIP_USES, DEFAULT_USE_RULES, Clip
from bot.clips.states import STATES, status_label
from bot.permissions import can_review
from bot.render import shorten

TOOLS = ("Sora 2", "Runway", "Kling", "Veo", "other")

# What members pick -> the domain's use (CLIP_USES), whose rule the pre-flight checks apply.
# A BRB screen is a background loop; trailers and cameos have no rule of their own.
USE_KEYS = {
    "intro": "intro",
    "alert": "alert",
    "BRB screen": "background",
    "trailer": "other",
    "social": "social",
    "cameo": "other",
    "other": "other",
}
assert set(USE_KEYS.values()) <= set(CLIP_USES)

TOOL_CHOICES = [app_commands.Choice(name=tool, value=tool) for tool in TOOLS]
USE_CHOICES = [app_commands.Choice(name=label, value=label) for label in USE_KEYS]
USE_FILTER_CHOICES = [
    app_commands.Choice(name=DEFAULT_USE_RULES[key].label, value=key) for key in CLIP_USES
]

STATUS_CHOICES = [
    app_commands.Choice(name=state.label, value=status.value) for status, state in STATES.items()
]


def use_label(use: str) -> str:
    rule = DEFAULT_USE_RULES.get(use)
    return rule.label if rule else use or "other"


def choice_name(clip: Clip) -> str:
    text = f"#{clip.id} · {' '.join(clip.title.split())} · {status_label(clip.status)}"
    return shorten(text, 100)


class ClipId(app_commands.Transformer):
    """A clip id with autocomplete: mods see every clip of the server, members their own."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    @property
    def min_value(self) -> int:
        return 1

    async def transform(self, interaction: discord.Interaction, value: int) -> int:
        return int(value)

    async def autocomplete(
        self, interaction: discord.Interaction, value: int | float | str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
            return []
        services = interaction.client.services
        config = await services.guild_configs.get(interaction.guild_id)
        member = interaction.user
        everything = can_review(member, config)
        clips = await services.clips.search_ids(
            interaction.guild_id, str(value or ""), limit=25 if everything else 100
        )
        if not everything:
            clips = [clip for clip in clips if clip.submitter_id == member.id]
        return [app_commands.Choice(name=choice_name(c), value=c.id) for c in clips[:25]]


ClipOption = app_commands.Transform[int, ClipId]


class RequestId(app_commands.Transformer):
    """A Twitch cameo request id with autocomplete: this server's accepted requests that wait
    for a clip (none when Twitch cameo requests are not loaded)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    @property
    def min_value(self) -> int:
        return 1

    async def transform(self, interaction: discord.Interaction, value: int) -> int:
        return int(value)

    async def autocomplete(
        self, interaction: discord.Interaction, value: int | float | str
    ) -> list[app_commands.Choice[int]]:
        twitch = interaction.client.get_cog(TWITCH_COG)
        if interaction.guild_id is None or twitch is None:
            return []
        found = await twitch.request_choices(interaction.guild_id, str(value or ""))
        return [app_commands.Choice(name=name, value=rid) for name, rid in found]


TWITCH_COG = "TwitchCog"
RequestOption = app_commands.Transform[int, RequestId]

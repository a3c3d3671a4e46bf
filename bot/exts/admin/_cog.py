"""Server admins set Greenroom up: /greenroom setup ... and /greenroom status."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.guild_config import GuildConfig, describe
from bot.permissions import ensure_admin, member_of

TextOrForum = discord.TextChannel | discord.ForumChannel


def _toggle(ids: tuple[int, ...], item: int, enabled: bool) -> tuple[int, ...]:
    kept = tuple(i for i in ids if i != item)
    return (*kept, item) if enabled else kept


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminCog(commands.GroupCog, group_name="greenroom", group_description="Set up Greenroom"):
    setup_group = app_commands.Group(name="setup", description="Change Greenroom's settings")

    def __init__(self, bot) -> None:
        self.bot = bot
        self.services = bot.services
        super().__init__()

    async def _set(self, interaction: discord.Interaction, **values) -> GuildConfig:
        ensure_admin(member_of(interaction))
        return await self.services.guild_configs.update(interaction.guild_id, **values)

    async def _config(self, interaction: discord.Interaction) -> GuildConfig:
        ensure_admin(member_of(interaction))
        return await self.services.guild_configs.get(interaction.guild_id)

    async def _done(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)

    async def _flag_term(self, interaction, term: str, enabled: bool, what: str, *, add, remove):
        """Brand and franchise terms: the same admin check, toggle and reply."""
        member = member_of(interaction)
        ensure_admin(member)
        await (add if enabled else remove)(interaction.guild_id, term, member.id)
        state = "now" if enabled else "no longer"
        await self._done(interaction, f"“{term}” is {state} {what}.")

    @setup_group.command(
        name="ask-channel", description="Answer questions automatically in a channel (or forum)"
    )
    @app_commands.describe(
        channel="A text or forum channel", enabled="Add (true) or remove (false)"
    )
    async def ask_channel(
        self, interaction: discord.Interaction, channel: TextOrForum, enabled: bool = True
    ) -> None:
        config = await self._config(interaction)
        config = await self._set(
            interaction, ask_channels=_toggle(config.ask_channels, channel.id, enabled)
        )
        state = "now" if enabled else "no longer"
        await self._done(interaction, f"{channel.mention} is {state} an ask channel.")

    @setup_group.command(name="mod-role", description="Add or remove a moderator role")
    async def mod_role(
        self, interaction: discord.Interaction, role: discord.Role, enabled: bool = True
    ) -> None:
        config = await self._config(interaction)
        await self._set(interaction, mod_roles=_toggle(config.mod_roles, role.id, enabled))
        state = "now" if enabled else "no longer"
        await self._done(interaction, f"{role.mention} is {state} a moderator role.")

    @setup_group.command(
        name="creator-role", description="Add or remove a role that may submit clips"
    )
    async def creator_role(
        self, interaction: discord.Interaction, role: discord.Role, enabled: bool = True
    ) -> None:
        config = await self._config(interaction)
        await self._set(interaction, creator_roles=_toggle(config.creator_roles, role.id, enabled))
        state = "may now" if enabled else "may no longer"
        await self._done(interaction, f"{role.mention} {state} submit clips.")

    @setup_group.command(name="review-channel", description="Where clip review cards are posted")
    async def review_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        await self._set(interaction, review_channel=channel.id)
        await self._done(interaction, f"Clip reviews will be posted in {channel.mention}.")

    @setup_group.command(
        name="showcase-channel", description="Where approved clips are shown (leave out: off)"
    )
    async def showcase_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        await self._set(interaction, showcase_channel=channel.id if channel else None)
        text = (
            f"Approved clips will be shown in {channel.mention}."
            if channel
            else "Approved clips won't be posted to a showcase channel."
        )
        await self._done(interaction, text)

    @setup_group.command(name="streamer-role", description="The streamer's role (may veto clips)")
    @app_commands.describe(can_veto="Whether the streamer's rejection overrides the mods")
    async def streamer_role(
        self, interaction: discord.Interaction, role: discord.Role, can_veto: bool = True
    ) -> None:
        await self._set(interaction, streamer_role=role.id, streamer_can_veto=can_veto)
        veto = "can veto any clip, even approved ones" if can_veto else "reviews like a mod"
        await self._done(interaction, f"{role.mention} is the streamer's role; it {veto}.")

    @setup_group.command(name="approvals", description="How many mods must approve a clip")
    async def approvals(
        self, interaction: discord.Interaction, count: app_commands.Range[int, 1, 5]
    ) -> None:
        await self._set(interaction, approvals_required=int(count))
        await self._done(interaction, f"Clips now need {count} approval(s) from different mods.")

    @setup_group.command(
        name="brand-term", description="Flag a sponsor or brand name in clip prompts"
    )
    @app_commands.describe(enabled="Flag it (true) or stop flagging it (false)")
    async def brand_term(
        self,
        interaction: discord.Interaction,
        term: app_commands.Range[str, 1, 100],
        enabled: bool = True,
    ) -> None:
        terms = self.services.clip_terms
        await self._flag_term(
            interaction, term, enabled, "flagged in clip prompts",
            add=terms.add_brand_term,
            remove=lambda guild, term, _actor: terms.remove_brand_term(guild, term),
        )  # fmt: skip

    @setup_group.command(
        name="franchise-term", description="Flag (or stop flagging) a franchise in clip prompts"
    )
    @app_commands.describe(enabled="Flag it (true) or stop flagging it (false)")
    async def franchise_term(
        self,
        interaction: discord.Interaction,
        term: app_commands.Range[str, 1, 100],
        enabled: bool = True,
    ) -> None:
        terms = self.services.clip_terms
        await self._flag_term(
            interaction, term, enabled, "flagged as a franchise in clips",
            add=terms.add_franchise_term, remove=terms.remove_franchise_term,
        )  # fmt: skip

    @setup_group.command(
        name="twitch-requests", description="Where Twitch cameo requests are posted for mods"
    )
    async def twitch_requests(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        await self._set(interaction, twitch_requests_channel=channel.id)
        await self._done(interaction, f"Twitch cameo requests will be posted in {channel.mention}.")

    @setup_group.command(name="log-channel", description="Where mod notifications go")
    async def log_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        await self._set(interaction, log_channel=channel.id)
        await self._done(interaction, f"Mod notifications will go to {channel.mention}.")

    @setup_group.command(
        name="auto-answer", description="Answer new questions in ask channels by myself"
    )
    @app_commands.describe(min_confidence="Answer only at or above this confidence, 0.0 to 1.0")
    async def auto_answer(
        self,
        interaction: discord.Interaction,
        enabled: bool,
        min_confidence: app_commands.Range[float, 0.0, 1.0] | None = None,
    ) -> None:
        values: dict = {"auto_answer": enabled}
        if min_confidence is not None:
            values["auto_answer_min_confidence"] = float(min_confidence)
        config = await self._set(interaction, **values)
        state = "on" if enabled else "off"
        await self._done(
            interaction,
            f"Auto-answer is {state} (minimum confidence {config.auto_answer_min_confidence:.0%}).",
        )

    @setup_group.command(name="cooldown", description="How often members and the server may ask")
    @app_commands.describe(
        seconds="Seconds a member waits between questions",
        per_minute="Questions the whole server may ask per minute",
    )
    async def cooldown(
        self,
        interaction: discord.Interaction,
        seconds: app_commands.Range[int, 0, 3600],
        per_minute: app_commands.Range[int, 1, 600] | None = None,
    ) -> None:
        values: dict = {"user_cooldown_seconds": int(seconds)}
        if per_minute is not None:
            values["guild_questions_per_minute"] = int(per_minute)
        config = await self._set(interaction, **values)
        await self._done(
            interaction,
            f"Members wait {config.user_cooldown_seconds} s between questions; the server may"
            f" ask {config.guild_questions_per_minute} per minute.",
        )

    @setup_group.command(
        name="written-answers", description="Let a language model write answers from the notes"
    )
    @app_commands.describe(
        state="on: a model writes cited answers from the notes; off: the passages themselves",
        monthly_tokens="The model's tokens a month, prompt and completion (default 500000)",
    )
    async def written_answers(
        self,
        interaction: discord.Interaction,
        state: Literal["on", "off"],
        monthly_tokens: app_commands.Range[int, 0, 1_000_000_000] | None = None,
    ) -> None:
        values: dict = {"written_answers": state == "on"}
        if monthly_tokens is not None:
            values["written_monthly_tokens"] = int(monthly_tokens)
        config = await self._set(interaction, **values)
        used = await self.services.written_usage.get(interaction.guild_id)
        text = (
            f"Written answers are {state} (budget {config.written_monthly_tokens:,} tokens a"
            f" month, {used.tokens:,} used in {used.month})."
        )
        if config.written_answers and self.services.written is None:
            text += (
                " This bot has no language model configured (GREENROOM_LLM_BASE_URL and"
                " GREENROOM_LLM_MODEL), so answers stay as they are until it has one."
            )
        await self._done(interaction, text)

    @app_commands.command(name="status", description="Show Greenroom's settings for this server")
    async def status(self, interaction: discord.Interaction) -> None:
        config = await self._config(interaction)
        embed = discord.Embed(title="Greenroom settings", colour=discord.Colour.green())
        mentions = {
            "ask_channels": "<#{}>",
            "review_channel": "<#{}>",
            "log_channel": "<#{}>",
            "showcase_channel": "<#{}>",
            "twitch_requests_channel": "<#{}>",
            "mod_roles": "<@&{}>",
            "creator_roles": "<@&{}>",
            "streamer_role": "<@&{}>",
        }
        for key, shown in describe(config):
            value = getattr(config, key)
            template = mentions.get(key)
            if template and value:
                items = value if isinstance(value, tuple) else (value,)
                shown = ", ".join(template.format(i) for i in items)
            embed.add_field(name=key.replace("_", " "), value=shown[:1024], inline=True)
        embed.add_field(
            name="written answers this month",
            value=await self._written_usage(interaction.guild_id, config),
            inline=False,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _written_usage(self, guild_id: int, config: GuildConfig) -> str:
        used = await self.services.written_usage.get(guild_id)
        budget = config.written_monthly_tokens
        share = f" ({used.tokens / budget:.0%})" if budget else ""
        model = self.services.written
        where = f"model {model.model}" if model is not None else "no language model configured"
        return (
            f"{where} · {used.tokens:,} of {budget:,} tokens{share} in {used.month}"
            f" ({used.prompt_tokens:,} prompt, {used.completion_tokens:,} completion) ·"
            f" {used.calls} calls, {used.failures} failed, {used.rejected} rejected by our"
            f" checks, {used.over_budget} over budget"
        )[:1024]

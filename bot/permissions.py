"""Who may do what: moderator and admin checks shared by commands, buttons and modals."""

from __future__ import annotations

import discord

from bot.errors import NotAdmin, NotModerator, UserFacingError
from bot.guild_config import GuildConfig


def member_of(interaction: discord.Interaction) -> discord.Member:
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        raise UserFacingError("This only works inside a server.")
    return interaction.user


def is_mod(member: discord.Member, config: GuildConfig) -> bool:
    perms = member.guild_permissions
    return config.is_mod(
        {role.id for role in member.roles}, administrator=perms.administrator or perms.manage_guild
    )


def ensure_mod(member: discord.Member, config: GuildConfig, what: str = "do that") -> None:
    if not is_mod(member, config):
        raise NotModerator(what)


def ensure_admin(member: discord.Member) -> None:
    perms = member.guild_permissions
    if not (perms.administrator or perms.manage_guild):
        raise NotAdmin()

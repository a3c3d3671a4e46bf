"""Who may do what: the one administrator test, and the moderator, reviewer and creator checks
shared by commands, buttons and modals."""

from __future__ import annotations

import discord

from bot.errors import NotAdmin, NotModerator, UserFacingError
from bot.guild_config import GuildConfig


def member_of(interaction: discord.Interaction) -> discord.Member:
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        raise UserFacingError("This only works inside a server.")
    return interaction.user


def role_ids(member: discord.Member) -> set[int]:
    return {role.id for role in member.roles}


def is_admin(member: discord.Member) -> bool:
    """The one administrator test: Administrator or Manage Server."""
    perms = member.guild_permissions
    return perms.administrator or perms.manage_guild


def is_mod(member: discord.Member, config: GuildConfig) -> bool:
    return config.is_mod(role_ids(member), administrator=is_admin(member))


def is_streamer(member: discord.Member, config: GuildConfig) -> bool:
    return config.streamer_role is not None and config.streamer_role in role_ids(member)


def can_review(member: discord.Member, config: GuildConfig) -> bool:
    return is_mod(member, config) or is_streamer(member, config)


def ensure_mod(member: discord.Member, config: GuildConfig, what: str = "do that") -> None:
    if not is_mod(member, config):
        raise NotModerator(what)


def ensure_admin(member: discord.Member) -> None:
    if not is_admin(member):
        raise NotAdmin()


def ensure_reviewer(member: discord.Member, config: GuildConfig) -> None:
    if not can_review(member, config):
        raise NotModerator("review clips")


def ensure_creator(member: discord.Member, config: GuildConfig) -> None:
    if not config.can_submit_clips(role_ids(member), administrator=is_admin(member)):
        raise UserFacingError(
            "Only members with the creator role can submit clips. Nothing was sent;"
            " ask a mod if you'd like to submit one."
        )

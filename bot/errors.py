"""The one place that turns any interaction error into a reply (the CLI's is bot/cli.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import discord
from discord import app_commands

from ingest.errors import UserFacingError
from knowledge import StoreUnavailable

log = logging.getLogger(__name__)

GENERIC_FAILURE = "Something went wrong on my side. It has been logged; please try again later."
# The vector store (a Chroma server) does not answer: the server's address is for the log only.
KB_UNAVAILABLE = (
    "The knowledge base is unavailable right now, so I can't look that up."
    " Please try again in a few minutes, or ask a mod."
)


__all__ = ["NotAdmin", "NotModerator", "SlowDown", "UserFacingError", "message_for"]


class NotModerator(UserFacingError):
    def __init__(self, what: str = "do that") -> None:
        super().__init__(f"Only moderators can {what}. Nothing was changed.")


class NotAdmin(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "Only server admins (Manage Server) can change Greenroom's settings."
            " Nothing was changed."
        )


class SlowDown(UserFacingError):
    pass


def message_for(error: BaseException) -> str | None:
    """The reply for an error a member caused, or None for a bug (which gets logged)."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or getattr(error, "original", error)
    if isinstance(error, StoreUnavailable):
        return KB_UNAVAILABLE  # the server's address is for the operator's log, not the member
    if isinstance(error, UserFacingError):
        # A member the error names is a mention (replies ping nobody by default), a moment a
        # relative timestamp that each reader's client keeps current.
        return error.describe(mention, relative_time)
    if isinstance(error, app_commands.MissingPermissions):
        return "You don't have permission to use this command. Nothing was changed."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works inside a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here. Nothing was changed."
    return None


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


def relative_time(at: float) -> str:
    """A unix time as Discord's "3 minutes ago" timestamp."""
    return discord.utils.format_dt(datetime.fromtimestamp(at, UTC), "R")


async def reply_ephemeral(interaction: discord.Interaction, content: str) -> None:
    """Reply or follow up, depending on whether the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True)
        else:
            await interaction.response.send_message(content, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about an error", exc_info=True)


async def report_interaction_error(interaction: discord.Interaction, error: BaseException) -> None:
    """The single error path for commands, context menus, buttons and modals."""
    message = message_for(error)
    if message is None:
        log.error(
            "interaction %s failed",
            getattr(interaction.command, "qualified_name", "component"),
            exc_info=(type(error), error, error.__traceback__),
        )
        message = GENERIC_FAILURE
    await reply_ephemeral(interaction, message)

"""The one intake pipeline behind `/clip submit` and `/clip resubmit`.

Refuse a declared-too-large or non-video attachment before any download, fetch and store the
file, run the pre-flight checks, put the draft in the queue and post its review card. The two
commands differ only in the draft they start from and in how the queue stores it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import discord

from bot.clips import Clip, ClipDraft
from bot.exts.clips._intake import FetchedClip
from bot.exts.clips._service import GreenRoom
from bot.guild_config import GuildConfig


@dataclass(frozen=True)
class Submitted:
    clip: Clip
    card: discord.Message
    fetched: FetchedClip | None  # None when a resubmission keeps the old file


async def submit(
    room: GreenRoom,
    interaction: discord.Interaction,
    config: GuildConfig,
    draft: ClipDraft,
    *,
    store: Callable[[ClipDraft], Awaitable[Clip]],
    file: discord.Attachment | None,
    link: str | None,
    exclude_family: int | None = None,
) -> Submitted:
    """Run the intake once: `draft` gets the fetched file's fields and the checks, then `store`."""
    channel = room.review_channel(interaction.guild, config)
    if file is not None:
        room.intake.check_declared(file.size, file.content_type)
    await interaction.response.defer(ephemeral=True, thinking=True)
    fetched = await room.intake.fetch(link) if link else None
    if fetched is not None:
        draft = replace(
            draft,
            sha256=fetched.sha256,
            file_ext=fetched.extension,
            source_url=None if file is not None else link,  # attachment links expire
            fingerprint=fetched.fingerprint,
            video=fetched.video,
        )
    if draft.video is not None:
        checks = await room.intake.preflight(
            interaction.guild_id,
            title=draft.title,
            prompt=draft.prompt,
            use=draft.use,
            video=draft.video,
            fingerprint=draft.fingerprint,
            sha256=draft.sha256,
            exclude_family=exclude_family,  # earlier versions are not duplicates
        )
        draft = replace(draft, preflight=checks)
    clip = await store(draft)
    card = await room.post_card(channel, clip, config)
    return Submitted(clip=clip, card=card, fetched=fetched)

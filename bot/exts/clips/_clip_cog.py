"""Creators send clips: /clip submit, resubmit, status, mine and secret."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.clips import Check, Clip, ClipDraft, ClipStatus, IllegalTransition, NotSubmitter
from bot.clips.states import ReviewAction, refusal_text, status_label
from bot.errors import UserFacingError
from bot.exts.clips._intake import FetchedClip
from bot.exts.clips._options import (
    TOOL_CHOICES,
    TWITCH_COG,
    USE_CHOICES,
    USE_KEYS,
    ClipOption,
    RequestOption,
)
from bot.exts.clips._render import CHECK_ICONS, card_embed, clip_line
from bot.exts.clips._service import GreenRoom
from bot.exts.clips._submit import submit
from bot.guild_config import GuildConfig
from bot.permissions import can_review, ensure_creator, member_of
from bot.render import shorten

S = ClipStatus


def _link(file: discord.Attachment | None, url: str | None) -> str | None:
    """The one place the clip comes from; both or neither is a mistake worth a clear word."""
    url = (url or "").strip() or None
    if file is not None and url is not None:
        raise UserFacingError("Give either a file or a link, not both. Nothing was sent.")
    if file is not None:
        return file.url
    return url


def _checks_summary(checks: list[Check] | tuple[Check, ...]) -> str:
    flagged = [c for c in checks if c.status != "ok" and c.name != "ai_disclosure"]
    if not flagged:
        return "Pre-flight checks: all fine."
    lines = [f"{CHECK_ICONS[c.status]} {shorten(c.detail, 200)}" for c in flagged]
    return "Pre-flight checks the mods will see:\n" + "\n".join(lines)


@app_commands.guild_only()
class ClipCog(commands.GroupCog, group_name="clip", group_description="Send AI clips for review"):
    def __init__(self, bot, room: GreenRoom) -> None:
        self.bot = bot
        self.services = bot.services
        self.room = room
        super().__init__()

    async def _own_or_reviewer(
        self, interaction: discord.Interaction, clip_id: int, what: str
    ) -> tuple[discord.Member, GuildConfig, Clip]:
        member = member_of(interaction)
        config = await self.room.config(interaction.guild_id)
        clip = await self.services.clips.get(clip_id, interaction.guild_id)
        if clip.submitter_id != member.id and not can_review(member, config):
            raise UserFacingError(f"Only the clip's creator or a mod can {what}.")
        return member, config, clip

    def _submitted_text(
        self, clip: Clip, card: discord.Message, fetched: FetchedClip | None
    ) -> str:
        version = f" (version {clip.version})" if clip.version > 1 else ""
        lines = [
            f"Sent **{discord.utils.escape_markdown(shorten(clip.title, 100))}**{version} as clip"
            f" #{clip.id}. The mods review it here: {card.jump_url}",
            "I'll DM you when they decide (or mention you in the card's thread if your DMs"
            " are closed).",
        ]
        if fetched is not None and fetched.already_stored:
            lines.append("I've seen this exact file before.")
        lines.append(_checks_summary(clip.preflight))
        return shorten("\n".join(lines), 2000)

    @app_commands.command(name="submit", description="Send an AI-generated clip to the mods")
    @app_commands.describe(
        title="A short name, e.g. “Neon moth raid alert”",
        prompt="The prompt you generated it with",
        tool="The AI video tool",
        use="Where it would be used on stream",
        file="The video file (or give a url instead)",
        url="A direct link to the video (or attach a file instead)",
        notes="Anything else the mods or fans should know (settings, edits)",
        request="The accepted Twitch cameo request this clip fulfils",
    )
    @app_commands.choices(tool=TOOL_CHOICES, use=USE_CHOICES)
    async def submit(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 100],
        prompt: app_commands.Range[str, 1, 2000],
        tool: str,
        use: str,
        file: discord.Attachment | None = None,
        url: str | None = None,
        notes: app_commands.Range[str, 0, 1000] | None = None,
        request: RequestOption | None = None,
    ) -> None:
        member = member_of(interaction)
        config = await self.room.config(interaction.guild_id)
        ensure_creator(member, config)
        twitch = self.bot.get_cog(TWITCH_COG) if request is not None else None
        if request is not None:
            if twitch is None:
                raise UserFacingError("Twitch cameo requests are not on here. Nothing was sent.")
            await twitch.check_linkable(interaction.guild_id, request)
        link = _link(file, url)
        if link is None:
            raise UserFacingError(
                "Attach the clip as `file` or give a `url` to it. Nothing was sent."
            )
        if not title.strip() or not prompt.strip():
            raise UserFacingError("A clip needs a title and the prompt. Nothing was sent.")
        draft = ClipDraft(
            title=" ".join(title.split()),
            prompt=prompt.strip(),
            tool=tool,
            use=USE_KEYS.get(use, "other"),
            notes=(notes or "").strip(),
        )
        done = await submit(
            self.room,
            interaction,
            config,
            draft,
            store=lambda d: self.services.clips.submit(interaction.guild_id, member.id, d),
            file=file,
            link=link,
        )
        text = self._submitted_text(done.clip, done.card, done.fetched)
        if twitch is not None:
            linked = await twitch.link_clip(interaction.guild_id, request, done.clip.id, member.id)
            text = shorten(f"{linked}\n{text}", 2000)
        await interaction.followup.send(text, ephemeral=True)

    @app_commands.command(
        name="resubmit", description="Send a new version of a rejected or sent-back clip"
    )
    @app_commands.describe(
        clip="The clip to replace",
        file="The new video file (leave out to keep the old one)",
        url="A direct link to the new video",
        title="A new title (default: unchanged)",
        prompt="The new prompt (default: unchanged)",
        notes="New notes (default: unchanged)",
    )
    @app_commands.choices(tool=TOOL_CHOICES, use=USE_CHOICES)
    async def resubmit(
        self,
        interaction: discord.Interaction,
        clip: ClipOption,
        file: discord.Attachment | None = None,
        url: str | None = None,
        title: app_commands.Range[str, 1, 100] | None = None,
        prompt: app_commands.Range[str, 1, 2000] | None = None,
        tool: str | None = None,
        use: str | None = None,
        notes: app_commands.Range[str, 0, 1000] | None = None,
    ) -> None:
        member = member_of(interaction)
        config = await self.room.config(interaction.guild_id)
        ensure_creator(member, config)
        old = await self.services.clips.get(clip, interaction.guild_id)
        if old.submitter_id != member.id:
            raise NotSubmitter(old.id)
        # Checked again by the queue (which names the newest version); this saves a download.
        if refused := refusal_text(old.id, old.status, ReviewAction.RESUBMIT):
            raise IllegalTransition(old.id, old.status, ReviewAction.RESUBMIT, refused)
        link = _link(file, url)
        changes: dict = {}
        if title is not None and title.strip():
            changes["title"] = " ".join(title.split())
        if prompt is not None and prompt.strip():
            changes["prompt"] = prompt.strip()
        if tool is not None:
            changes["tool"] = tool
        if use is not None:
            changes["use"] = USE_KEYS.get(use, "other")
        if notes is not None:
            changes["notes"] = notes.strip()
        done = await submit(
            self.room,
            interaction,
            config,
            old.to_draft(**changes),
            store=lambda d: self.services.clips.resubmit(
                old.id, interaction.guild_id, member.id, d
            ),
            file=file,
            link=link,
            exclude_family=old.root_id,
        )
        new, card = done.clip, done.card
        await self.room.refresh_card(interaction.guild, old.id)
        await self.room.messenger.say_in_thread(
            old, f"Version {new.version} is up for review as clip #{new.id}: {card.jump_url}"
        )
        text = self._submitted_text(new, card, done.fetched)
        twitch = self.bot.get_cog(TWITCH_COG)
        if twitch is not None and twitch.store is not None:
            lines = await twitch.clip_resubmitted(interaction.guild_id, new.id, member.id)
            text = shorten("\n".join([*lines, text]), 2000)
        await interaction.followup.send(text, ephemeral=True)

    @app_commands.command(name="status", description="Where a clip is in the review")
    async def status(self, interaction: discord.Interaction, clip: ClipOption) -> None:
        _member, config, found = await self._own_or_reviewer(interaction, clip, "see its status")
        state = await self.room.card_state(found, config, interaction.guild.filesize_limit)
        embed = card_embed(state)
        versions = await self.services.clips.versions(found.id, found.guild_id)
        if len(versions) > 1:
            embed.add_field(
                name="Versions",
                value=shorten(
                    "\n".join(
                        f"v{v.version}: #{v.id} · {status_label(v.status)}" for v in versions
                    ),
                    1024,
                ),
                inline=False,
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="mine", description="The clips you sent and where they are")
    async def mine(self, interaction: discord.Interaction) -> None:
        member = member_of(interaction)
        clips = await self.services.clips.mine(interaction.guild_id, member.id, limit=25)
        text = "\n".join(clip_line(c, with_submitter=False) for c in clips)
        embed = discord.Embed(
            title="Your clips",
            description=shorten(text, 4000) or "You haven't sent any clips yet: `/clip submit`.",
            colour=discord.Colour.blurple(),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="secret", description="Keep a clip's recipe (prompt) to yourself")
    @app_commands.describe(secret="True: fans are told it's secret; False: the prompt is shared")
    async def secret(
        self, interaction: discord.Interaction, clip: ClipOption, secret: bool = True
    ) -> None:
        member, _config, found = await self._own_or_reviewer(
            interaction, clip, "change whether its recipe is secret. Nothing was changed"
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.services.clips.set_secret(found.id, found.guild_id, member.id, secret)
        lines = [
            f"The recipe of clip #{found.id} is now "
            + ("secret." if secret else "shared with fans once approved.")
        ]
        if found.status in (S.APPROVED, S.PUBLISHED):
            lines.append(await self.room.publish_recipe(found))
        await self.room.refresh_card(interaction.guild, found.id)
        await interaction.followup.send("\n".join(lines), ephemeral=True)

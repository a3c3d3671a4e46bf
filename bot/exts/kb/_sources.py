"""`/kb sources list|add|remove|sync`: the sources a server's notes come from.

A mixin of `KnowledgeCog`: discord.py nests a group under a GroupCog's `/kb` only when the
group is an attribute of that cog's class.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.permissions import ensure_admin, member_of
from bot.render import shorten
from ingest.connectors.addresses import is_public_host
from ingest.connectors.spec import (
    MAX_SCHEDULE_MINUTES,
    MIN_SCHEDULE_MINUTES,
    SourceSpec,
    SourceSpecError,
)
from knowledge.source_registry import (
    FAILED,
    KEY_PREFIX_CHARS,
    OK,
    SourceRecord,
    SourceResult,
    canonical_spec,
)
from knowledge.source_syncer import SourceOutcome

FIRST_SYNC_WAIT_SECONDS = 60.0  # then the reply says the sync goes on in the background
# Folders and export files are paths on the bot's host: only its operator adds them (CLI).
KIND_CHOICES = [
    app_commands.Choice(name="Web page", value="web_page"),
    app_commands.Choice(name="Sitemap (every page it lists)", value="sitemap"),
    app_commands.Choice(name="Google Doc", value="google_doc"),
    app_commands.Choice(name="Notion page (and its child pages)", value="notion_page"),
    app_commands.Choice(name="Notion database (one note per row)", value="notion_database"),
]
_NEEDS_TOKEN = {"notion_page": "Notion", "notion_database": "Notion"}
_ICONS = {OK: "✅", "partial": "🟡", FAILED: "⚠️"}


def describe_result(result: SourceResult | None) -> str:
    if result is None:
        return "⏳ not synced yet"
    text = f"{_ICONS.get(result.status, '•')} {result.status}: {result.message}"
    if result.failures:
        name, reason = result.failures[0]
        more = f" (+{result.failure_count - 1} more)" if result.failure_count > 1 else ""
        text += f" First problem: `{shorten(name, 80)}`: {reason}{more}"
    return text


def describe_source(record: SourceRecord, documents: int) -> str:
    schedule = (
        f"every {record.spec.schedule_minutes} min"
        if record.spec.schedule_minutes
        else ("watched" if record.watched else "on reload")
    )
    synced = f" · last sync <t:{int(record.last_synced_at)}:R>" if record.last_synced_at else ""
    plural = "" if documents == 1 else "s"
    return (
        f"• **{record.kind}** `{shorten(record.spec.target, 90)}` · {schedule} · "
        f"{documents} document{plural}{synced}\n"
        f"  {shorten(describe_result(record.last_result), 300)}"
    )


class SourceCommands:
    """The `/kb sources` group; expects `self.services`, `self.bot` and `self._mod` (the cog)."""

    sources = app_commands.Group(name="sources", description="Where this server's notes come from")

    @sources.command(name="list", description="Each source, its schedule and its last sync")
    async def sources_list(self, interaction: discord.Interaction) -> None:
        await self._mod(interaction, "list the sources")
        kb_name = str(interaction.guild_id)
        records = await self.services.sources.list(kb_name)
        counts = dict(await self.services.source_counts(interaction.guild_id))
        lines = [describe_source(r, counts.pop(r.source_name, 0)) for r in records]
        # Documents added without a source: mods' answers, approved clips' recipes.
        lines += [f"• `{shorten(name, 80)}`: {count} documents" for name, count in counts.items()]
        text = "\n".join(lines) or (
            "No sources yet: `/kb sources add` adds a page, doc or Notion page;"
            " `greenroom ingest PATH --kb <server id>` adds a folder."
        )
        await interaction.response.send_message(shorten(text, 2000), ephemeral=True)

    @sources.command(name="add", description="Add a web page, sitemap, Google Doc or Notion page")
    @app_commands.describe(
        kind="What the link points at",
        target="The link (or the Google Doc / Notion id)",
        schedule=f"Re-sync every N minutes ({MIN_SCHEDULE_MINUTES} to {MAX_SCHEDULE_MINUTES});"
        " empty: only on /kb reload",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    async def sources_add(
        self,
        interaction: discord.Interaction,
        kind: app_commands.Choice[str],
        target: str,
        schedule: app_commands.Range[int, MIN_SCHEDULE_MINUTES, MAX_SCHEDULE_MINUTES] | None = None,
    ) -> None:
        ensure_admin(member_of(interaction))
        try:
            spec = canonical_spec(SourceSpec(kind.value, target, {}, schedule))
        except SourceSpecError as exc:
            raise UserFacingError(f"{exc} Nothing was added.") from None
        if (
            spec.kind in ("web_page", "sitemap")
            and not self.services.settings.source_allow_private_hosts
        ):
            host = urlsplit(spec.target).hostname or ""
            if not await is_public_host(host):
                raise UserFacingError(
                    f"{host} is a private or local address; only public pages can be added."
                    " Nothing was added."
                )
        if self.services.sources.tokens.for_kind(spec.kind) is None and spec.kind in _NEEDS_TOKEN:
            raise UserFacingError(
                f"This bot has no {_NEEDS_TOKEN[spec.kind]} token, so it cannot read"
                f" {_NEEDS_TOKEN[spec.kind]}; ask whoever runs it to set one. Nothing was added."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        kb_name = str(interaction.guild_id)
        record, _ = await self.services.sources.add(kb_name, spec, sync=False)
        outcome = await self._first_sync(kb_name, record.key)
        every = f", re-synced every {schedule} min" if schedule else ""
        await interaction.followup.send(
            shorten(f"Added **{record.kind}** `{record.spec.target}`{every}.\n{outcome}", 2000),
            ephemeral=True,
        )

    @sources.command(
        name="remove", description="Remove a source and what it brought into the notes"
    )
    @app_commands.describe(source="The source (start typing its link)")
    async def sources_remove(self, interaction: discord.Interaction, source: str) -> None:
        ensure_admin(member_of(interaction))
        await interaction.response.defer(ephemeral=True, thinking=True)
        record, report = await self.services.sources.remove(str(interaction.guild_id), source)
        plural = "" if report.removed == 1 else "s"
        await interaction.followup.send(
            shorten(
                f"Removed **{record.kind}** `{record.spec.target}` and the {report.removed}"
                f" document{plural} it brought into the notes.",
                2000,
            ),
            ephemeral=True,
        )

    @sources.command(name="sync", description="Sync one source now")
    @app_commands.describe(source="The source (start typing its link)")
    async def sources_sync(self, interaction: discord.Interaction, source: str) -> None:
        await self._mod(interaction, "sync the sources")
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.services.sources.sync(str(interaction.guild_id), source)
        await interaction.followup.send(
            shorten(f"`{outcome.key}`: {describe_result(outcome.result)}", 2000), ephemeral=True
        )

    @sources_remove.autocomplete("source")
    @sources_sync.autocomplete("source")
    async def _source_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        records = await self.services.sources.list(str(interaction.guild_id))
        current = current.lower()
        return [
            app_commands.Choice(name=shorten(r.key, 100), value=r.key[:KEY_PREFIX_CHARS])
            for r in records
            if current in r.key.lower()
        ][:25]

    async def _first_sync(self, kb_name: str, key: str) -> str:
        """Sync a new source, waiting a while for the result; a long one goes on regardless."""
        task = self.bot.spawn(self.services.sources.sync(kb_name, key), name=f"source:{key}")
        done, _ = await asyncio.wait({task}, timeout=FIRST_SYNC_WAIT_SECONDS)
        if not done:
            return "The first sync is still running; `/kb sources list` shows how it went."
        outcome: SourceOutcome = task.result()
        return f"First sync: {describe_result(outcome.result)}"

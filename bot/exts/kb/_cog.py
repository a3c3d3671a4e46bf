"""Mods' knowledge base commands: /kb stats, search, reload, gaps (+ answer modal);
/kb sources ... lives in _sources.py, /kb learned ... in _learned.py."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.exts.kb._learned import LearnedCommands
from bot.exts.kb._sources import SourceCommands
from bot.exts.kb._views import GapAnswerButton, GapAnswerModal
from bot.permissions import ensure_mod, member_of
from bot.question_log import group_gaps
from bot.render import shorten
from ingest.documents import Document
from knowledge import SyncReport, check_question
from knowledge.source_registry import FAILED

log = logging.getLogger(__name__)

MOD_ANSWERS_SOURCE = "mod-answers"


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class KnowledgeCog(
    SourceCommands,
    LearnedCommands,
    commands.GroupCog,
    group_name="kb",
    group_description="The notes Greenroom answers from",
):
    def __init__(self, bot) -> None:
        self.bot = bot
        self.services = bot.services
        super().__init__()

    async def _mod(self, interaction: discord.Interaction, what: str):
        member = member_of(interaction)
        config = await self.services.guild_configs.get(interaction.guild_id)
        ensure_mod(member, config, what)
        return member, config

    @app_commands.command(
        name="stats", description="Documents, chunks and questions of this server's notes"
    )
    async def stats(self, interaction: discord.Interaction) -> None:
        await self._mod(interaction, "see knowledge base stats")
        stats = await self.services.stats(interaction.guild_id)
        counts = await self.services.questions.counts(interaction.guild_id)
        embed = discord.Embed(title="Knowledge base", colour=discord.Colour.blurple())
        embed.add_field(name="Documents", value=str(stats["documents"]))
        embed.add_field(name="Passages", value=str(stats["chunks"]))
        embed.add_field(name="Sources", value=str(stats["sources"]))
        asked = sum(counts.values())
        embed.add_field(
            name="Questions",
            value=f"{asked} asked · {counts.get('answer', 0)} answered · "
            f"{counts.get('suggest', 0)} suggested · "
            f"{counts.get('decline', 0) + counts.get('silent', 0)} not covered",
            inline=False,
        )
        embed.set_footer(text=f"model {stats['model']}")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name="search", description="Show the passages that match a query, with scores"
    )
    @app_commands.describe(query="Words or a question to look up")
    async def search(self, interaction: discord.Interaction, query: str) -> None:
        await self._mod(interaction, "search the notes")
        query = check_question(query)
        await interaction.response.defer(ephemeral=True, thinking=True)
        hits = await self.services.search(interaction.guild_id, query, k=5)
        embed = discord.Embed(
            title=shorten(f"Search: {query}", 256), colour=discord.Colour.blurple()
        )
        if not hits:
            embed.description = "Nothing in the notes matches."
        for n, hit in enumerate(hits, start=1):
            c = hit.chunk
            dense = f"{hit.dense:.2f}" if hit.dense is not None else "–"
            lexical = f"{hit.lexical:.1f}" if hit.lexical is not None else "–"
            scores = f"score {hit.score:.4f} · dense {dense} · bm25 {lexical}"
            if c.visibility == "private":  # never quoted in Discord, not even to mods
                label = c.title
                where = c.path or c.url or c.doc_id
                body = f"{scores} · private note, not quoted\n`{shorten(where, 900)}`"
            else:
                label = f"{c.title} › {c.heading}" if c.heading else c.title
                body = f"{scores}\n{c.text}"
            embed.add_field(
                name=shorten(f"{n}. {label}", 256), value=shorten(body, 1024), inline=False
            )
        await interaction.followup.send(embed=embed, ephemeral=True)

    @app_commands.command(name="reload", description="Re-sync the notes from all their sources")
    async def reload(self, interaction: discord.Interaction) -> None:
        await self._mod(interaction, "reload the notes")
        kb_name = str(interaction.guild_id)
        records = await self.services.sources.list(kb_name)
        if not records:
            raise UserFacingError(
                "There is no source to reload for this server: `/kb sources add` adds a page,"
                " doc or Notion page; `greenroom ingest PATH --kb <server id>` adds a folder."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        loop = asyncio.get_running_loop()
        progress_message = await interaction.followup.send(
            "Reloading… 0%", ephemeral=True, wait=True
        )
        last_shown = [0.0]

        def progress_of(n: int):  # source n's progress, as a share of the whole reload
            def progress(done: int, total: int) -> None:
                share = (n + (done / total if total else 1.0)) / len(records)
                if share - last_shown[0] >= 0.25 or done == total:
                    last_shown[0] = share
                    asyncio.run_coroutine_threadsafe(
                        progress_message.edit(content=f"Reloading… {share:.0%}"), loop
                    )

            return progress

        report = SyncReport()
        problems: list[str] = []
        for n, record in enumerate(records):
            outcome = await self.services.sources.sync(kb_name, record.key, progress_of(n))
            if outcome.report is not None:
                report.merge(outcome.report)
            if outcome.result.status == FAILED:
                problems.append(f"• `{shorten(record.spec.target, 80)}`: {outcome.result.message}")
        lines = [f"Reloaded {len(records)} source(s): {report.summary()}.", *problems[:5]]
        lines += [f"• `{f.path or f.doc_id}`: {f.reason}" for f in report.failed[:10]]
        await progress_message.edit(content=shorten("\n".join(lines), 2000))

    @app_commands.command(
        name="gaps", description="Questions the notes did not answer, most asked first"
    )
    async def gaps(self, interaction: discord.Interaction) -> None:
        await self._mod(interaction, "see the knowledge gaps")
        await interaction.response.defer(ephemeral=True, thinking=True)
        open_questions = await self.services.questions.open_gaps(interaction.guild_id)
        vectors = await self.services.embed([q.question for q in open_questions])
        groups = group_gaps(open_questions, lambda _texts: vectors)  # embedded off the loop
        if not groups:
            await interaction.followup.send(
                "No open gaps: every question was answered. 🎉", ephemeral=True
            )
            return
        embed = discord.Embed(title="Knowledge gaps", colour=discord.Colour.orange())
        view = discord.ui.View(timeout=None)
        for gap in groups[:10]:
            q = gap.representative
            times = f" (asked {gap.count}×)" if gap.count > 1 else ""
            why = "👎" if q.outcome == "answered" else "not covered"
            embed.add_field(
                name=shorten(f"#{q.id}{times} · {why}", 256),
                value=shorten(q.question, 1024),
                inline=False,
            )
        for gap in groups[:5]:
            view.add_item(GapAnswerButton(gap.representative.id))
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    # -- the gap loop ---------------------------------------------------------------------
    async def open_gap_modal(self, interaction: discord.Interaction, question_id: int) -> None:
        await self._mod(interaction, "answer questions for the notes")
        logged = await self.services.questions.get(question_id)
        if logged is None or logged.guild_id != interaction.guild_id:
            raise UserFacingError("I can't find that question any more.")
        await interaction.response.send_modal(GapAnswerModal(question_id, logged.question))

    async def submit_gap_answer(
        self, interaction: discord.Interaction, question_id: int, answer_text: str
    ) -> None:
        member, _ = await self._mod(interaction, "answer questions for the notes")
        logged = await self.services.questions.get(question_id)
        if logged is None or logged.guild_id != interaction.guild_id:
            raise UserFacingError("I can't find that question any more.")
        answer_text = answer_text.strip()
        if not answer_text:
            raise UserFacingError("The answer is empty; nothing was added.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        doc = Document(
            doc_id=f"{MOD_ANSWERS_SOURCE}::{question_id}",
            title=logged.question,
            text=f"{answer_text}\n",
            source=MOD_ANSWERS_SOURCE,
            metadata={"answered_by": str(member.id)},
        )
        await self.services.add_documents(interaction.guild_id, [doc])
        # The mod's answer is the answer to this question: learned at once (a mod's word).
        chunk_id = await self.services.first_chunk_id(interaction.guild_id, doc.doc_id)
        if chunk_id is not None:
            await self.services.confirm(
                interaction.guild_id,
                logged.searched,
                chunk_id,
                member.id,
                by_mod=True,
                question_id=question_id,
            )
        # Close the whole group of similar questions, not just this one.
        open_questions = await self.services.questions.open_gaps(interaction.guild_id)
        same = [q for q in open_questions if q.id == question_id]
        others = [q for q in open_questions if q.id != question_id]
        if others:
            vectors = await self.services.embed([logged.question] + [q.question for q in others])
            same += [
                q for q, v in zip(others, vectors[1:], strict=True) if float(v @ vectors[0]) >= 0.75
            ]
        await self.services.questions.resolve([q.id for q in same] or [question_id], member.id)
        delivered = await self._tell_fan(interaction, logged, answer_text, member)
        await interaction.followup.send(
            f"Added to the notes{delivered}. The next fan who asks gets this answer.",
            ephemeral=True,
        )

    async def _tell_fan(self, interaction, logged, answer_text: str, mod: discord.Member) -> str:
        channel = interaction.guild.get_channel_or_thread(logged.channel_id)
        if channel is None:
            return ", but I couldn't find the channel where it was asked"
        content = shorten(
            f"<@{logged.user_id}> a mod answered your question “{shorten(logged.question, 200)}”:\n"
            f"{answer_text}",
            2000,
        )
        allowed = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(logged.user_id)]
        )
        try:
            if logged.asked_message_id:
                target = channel.get_partial_message(logged.asked_message_id)
                await target.reply(content, allowed_mentions=allowed, mention_author=True)
            else:
                await channel.send(content, allowed_mentions=allowed)
        except discord.HTTPException:
            log.info("could not deliver a mod answer to the fan", exc_info=True)
            return ", but I couldn't post it where it was asked"
        return f" and sent to <@{logged.user_id}>"

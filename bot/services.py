"""What the bot's features share, built once in main(): knowledge, database, settings, limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from bot.clips import ClipStore, GuildTermStore, ReviewQueue
from bot.guild_config import GuildConfigStore
from bot.metrics import MeasuredSourceSyncer, Metrics
from bot.question_log import QuestionLog
from bot.ratelimit import QuestionLimiter
from bot.settings import Settings
from bot.storage import Database
from bot.written_usage import WrittenUsage
from ingest.connectors.outbound import outbound_client
from ingest.documents import Document
from knowledge import (
    ANSWER,
    DECLINE,
    SUGGEST,
    Answer,
    Hit,
    KnowledgeBase,
    KnowledgeService,
    LearnedEntry,
    Library,
    OnText,
    SearchFilter,
    SourceSyncer,
    SyncReport,
    WrittenAnswerer,
)

log = logging.getLogger(__name__)

TIERS = (ANSWER, SUGGEST, DECLINE)  # best first: a follow-up's retry is kept if not worse


@dataclass
class Services:
    settings: Settings
    library: Library
    db: Database
    guild_configs: GuildConfigStore
    questions: QuestionLog
    clips: ReviewQueue  # the clip green room: submissions, decisions, audit
    clip_terms: GuildTermStore  # each guild's franchise and brand words for pre-flight checks
    clip_store: ClipStore  # clip files by sha256 under the data directory
    http: httpx.AsyncClient  # downloads clip links and attachments
    sources: SourceSyncer  # each guild's registered sources (folders, docs, pages) and syncs
    written_usage: WrittenUsage  # each guild's monthly use of the language model
    limiter: QuestionLimiter = field(default_factory=QuestionLimiter)
    metrics: Metrics = field(default_factory=Metrics)  # served by bot/monitoring.py
    # Writes answers with a language model (GREENROOM_LLM_*); None: answers stay extractive.
    written: WrittenAnswerer | None = None
    # Every knowledge base call runs off the event loop through this (knowledge/service.py).
    knowledge: KnowledgeService = field(init=False)

    def __post_init__(self) -> None:
        self.knowledge = KnowledgeService(self.library)

    @classmethod
    async def open(cls, settings: Settings, library: Library) -> Services:
        db = await Database.open(settings.database_path)
        metrics = Metrics()
        services = cls(
            settings,
            library,
            db,
            GuildConfigStore(db),
            QuestionLog(db, metrics),
            clips=await ReviewQueue.open(db),
            clip_terms=await GuildTermStore.open(db),
            clip_store=await asyncio.to_thread(ClipStore, settings.clips_dir),
            http=outbound_client(allow_private=settings.clip_allow_private_hosts),
            sources=MeasuredSourceSyncer(
                library,
                outbound_client(allow_private=settings.source_allow_private_hosts),
                settings.source_tokens(),
                metrics=metrics,
            ),
            written_usage=WrittenUsage(db),
            metrics=metrics,
        )
        await services.guild_configs.migrate()
        await services.questions.migrate()
        await services.written_usage.migrate()
        if (model := settings.written_model()) is not None:
            services.written = WrittenAnswerer(model)
            log.info("written answers can use the model %s at %s", model.model, model.base_url)
        return services

    async def close(self) -> None:
        await self.sources.aclose()  # lets a sync already storing finish before the KBs close
        if self.written is not None:
            await self.written.aclose()
        await self.http.aclose()
        await self.db.close()
        await asyncio.to_thread(self.library.close)

    def kb(self, guild_id: int) -> KnowledgeBase:
        """Each guild has its own knowledge base, named by the guild's id (blocking code only)."""
        return self.knowledge.kb(str(guild_id))

    # Embedding and store calls are CPU work: self.knowledge runs them off the event loop.
    async def ask(
        self,
        guild_id: int,
        question: str,
        *,
        retry_with: str | None = None,
        on_text: OnText | None = None,
    ) -> Answer:
        """The answer a fan gets: extractive, or written by the guild's model when it has
        written answers on and budget left (`on_text` then sees the checked text as it comes).

        `retry_with` is asked too when `question` alone gets no answer (a short follow-up read
        with its first question); the better tier is kept. `answer.question` is the text asked.
        """
        started = time.perf_counter()
        answer = await self.knowledge.ask(str(guild_id), question)
        if answer.abstained and retry_with:
            retry = await self.knowledge.ask(str(guild_id), retry_with)
            if TIERS.index(retry.mode) <= TIERS.index(answer.mode):
                answer = retry
        answer = await self._written(guild_id, answer, on_text)
        seconds = time.perf_counter() - started
        self.metrics.answered(answer.mode, seconds)
        # Never the question's text at INFO: the guild and interaction ids are on the line.
        log.info(
            "question answered: tier %s%s, confidence %.2f, %.0f ms",
            answer.mode,
            " (written)" if answer.written else "",
            answer.confidence,
            seconds * 1000,
        )
        return answer

    async def written_enabled(self, guild_id: int) -> bool:
        """Whether this guild's answers go to the model (it has one and switched them on)."""
        if self.written is None:
            return False
        return (await self.guild_configs.get(guild_id)).written_answers

    async def _written(self, guild_id: int, answer: Answer, on_text: OnText | None) -> Answer:
        if self.written is None or answer.learned or not answer.hits:
            return answer
        config = await self.guild_configs.get(guild_id)
        if not config.written_answers:
            return answer
        used = await self.written_usage.get(guild_id)
        if used.tokens >= config.written_monthly_tokens:
            await self.written_usage.over_budget(guild_id)
            log.warning(
                "written answer not used (the monthly budget of %d tokens is used up: %d);"
                " the extractive answer is shown",
                config.written_monthly_tokens,
                used.tokens,
            )
            return answer
        result = await self.written.write(answer, on_text=on_text)
        await self.written_usage.record(guild_id, result)
        log.info(
            "written answer: %s, %.0f ms, %d tokens%s",
            result.outcome,
            result.seconds * 1000,
            result.usage.prompt_tokens + result.usage.completion_tokens,
            " (estimated)" if result.usage.estimated else "",
        )
        return result.answer

    async def search(self, guild_id: int, question: str, k: int = 5) -> list[Hit]:
        return await self.knowledge.search(str(guild_id), question, k, SearchFilter())

    async def add_documents(self, guild_id: int, docs: Sequence[Document]) -> SyncReport:
        return await self.knowledge.add_documents(str(guild_id), docs)

    async def remove_documents(self, guild_id: int, doc_ids: Sequence[str]) -> SyncReport:
        return await self.knowledge.remove_documents(str(guild_id), doc_ids)

    async def embed(self, texts: list[str]):
        return await self.knowledge.embed(texts)

    async def stats(self, guild_id: int) -> dict[str, object]:
        """The guild's knowledge base in figures: documents, chunks, sources, vectors, model."""
        return await self.knowledge.stats(str(guild_id))

    async def source_counts(self, guild_id: int) -> list[tuple[str, int]]:
        """Each source's name and its number of documents in the guild's knowledge base."""
        return await self.knowledge.sources(str(guild_id))

    # Learned answers (knowledge/learned.py): each guild's live in its own knowledge base.
    async def confirm(
        self,
        guild_id: int,
        question: str,
        chunk_id: str,
        user_id: int,
        *,
        by_mod: bool,
        question_id: int | None = None,
    ) -> LearnedEntry | None:
        """Remember that a passage answered a question; None if the passage is gone or private.

        With `question_id`, the question log keeps the entry, so a 👎 there can undo it.
        """
        entry = await self.knowledge.confirm(
            str(guild_id), question, chunk_id, user_id, by_mod=by_mod
        )
        if entry is not None and question_id is not None:
            await self.questions.set_confirmed(question_id, entry.id)
        return entry

    async def refute(self, guild_id: int, entry_id: int) -> bool:
        return await self.knowledge.refute(str(guild_id), entry_id)

    async def learned_entries(self, guild_id: int) -> list[LearnedEntry]:
        return await self.knowledge.learned_entries(str(guild_id))

    async def learned_entry(self, guild_id: int, entry_id: int) -> LearnedEntry | None:
        return await self.knowledge.learned_entry(str(guild_id), entry_id)

    async def first_chunk_id(self, guild_id: int, doc_id: str) -> str | None:
        """The id of a document's first passage (its lowest index), if it has any."""
        return await self.knowledge.first_chunk_id(str(guild_id), doc_id)

"""What the bot's features share, built once in main(): knowledge, database, settings, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from bot.clips import ClipStore, GuildTermStore, ReviewQueue
from bot.guild_config import GuildConfigStore
from bot.question_log import QuestionLog
from bot.ratelimit import QuestionLimiter
from bot.settings import Settings
from bot.storage import Database
from ingest.documents import Document
from knowledge.answer import Answer
from knowledge.base import KnowledgeBase, Library
from knowledge.retrieval import Hit, SearchFilter
from knowledge.source_sync import SourceSyncer, source_client
from knowledge.sync import SyncReport


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
    limiter: QuestionLimiter = field(default_factory=QuestionLimiter)

    @classmethod
    async def open(cls, settings: Settings, library: Library) -> Services:
        db = await Database.open(settings.database_path)
        services = cls(
            settings,
            library,
            db,
            GuildConfigStore(db),
            QuestionLog(db),
            clips=await ReviewQueue.open(db),
            clip_terms=await GuildTermStore.open(db),
            clip_store=await asyncio.to_thread(ClipStore, settings.clips_dir),
            http=httpx.AsyncClient(),
            sources=SourceSyncer(
                library,
                source_client(allow_private=settings.source_allow_private_hosts),
                settings.source_tokens(),
            ),
        )
        await services.guild_configs.migrate()
        await services.questions.migrate()
        return services

    async def close(self) -> None:
        await self.sources.aclose()  # lets a sync already storing finish before the KBs close
        await self.http.aclose()
        await self.db.close()
        await asyncio.to_thread(self.library.close)

    def kb(self, guild_id: int) -> KnowledgeBase:
        """Each guild has its own knowledge base, named by the guild's id."""
        return self.library.open(str(guild_id))

    # Embedding and store calls are CPU work: they run off the event loop, always.
    # (Opening a guild's knowledge base the first time reads SQLite: also off the loop.)
    async def ask(self, guild_id: int, question: str) -> Answer:
        return await asyncio.to_thread(lambda: self.kb(guild_id).ask(question))

    async def search(self, guild_id: int, question: str, k: int = 5) -> list[Hit]:
        return await asyncio.to_thread(
            lambda: self.kb(guild_id).search(question, k, SearchFilter())
        )

    async def add_documents(self, guild_id: int, docs: Sequence[Document]) -> SyncReport:
        return await asyncio.to_thread(lambda: self.kb(guild_id).add_documents(docs))

    async def remove_documents(self, guild_id: int, doc_ids: Sequence[str]) -> SyncReport:
        return await asyncio.to_thread(lambda: self.kb(guild_id).remove_documents(doc_ids))

    async def embed(self, texts: list[str]):
        return await asyncio.to_thread(self.library.embedder.encode, texts, query=True)

"""The knowledge bases for async callers (the bot): every call runs off the event loop.

Embedding and store calls are CPU work and blocking I/O; discord.py's heartbeat must never wait
on them, so each method runs the KnowledgeBase call in `asyncio.to_thread`. Opening a knowledge
base the first time reads SQLite: that happens in the thread too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from ingest.documents import Document
from knowledge.answer import Answer
from knowledge.base import KnowledgeBase, Library, Source
from knowledge.indexing import Progress, SyncReport
from knowledge.learned import LearnedEntry
from knowledge.retrieval import PUBLIC_ONLY, Hit, SearchFilter


class KnowledgeService:
    """Async access to the knowledge bases of one library, each named (a guild's id, say)."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def kb(self, name: str) -> KnowledgeBase:
        """The knowledge base itself, for blocking code already off the event loop."""
        return self.library.open(name)

    async def ask(
        self, name: str, question: str, k: int = 5, search_filter: SearchFilter = PUBLIC_ONLY
    ) -> Answer:
        return await asyncio.to_thread(lambda: self.kb(name).ask(question, k, search_filter))

    async def search(
        self, name: str, question: str, k: int = 5, search_filter: SearchFilter = PUBLIC_ONLY
    ) -> list[Hit]:
        return await asyncio.to_thread(lambda: self.kb(name).search(question, k, search_filter))

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Query vectors for interactive texts (never queued behind a bulk sync)."""
        return await asyncio.to_thread(self.library.embedder.encode, texts, query=True)

    # -- syncing ----------------------------------------------------------------------------
    async def sync(
        self, name: str, sources: Sequence[Source], progress: Progress | None = None
    ) -> SyncReport:
        return await asyncio.to_thread(lambda: self.kb(name).sync(sources, progress))

    async def add_documents(self, name: str, docs: Sequence[Document]) -> SyncReport:
        return await asyncio.to_thread(lambda: self.kb(name).add_documents(docs))

    async def remove_documents(self, name: str, doc_ids: Sequence[str]) -> SyncReport:
        return await asyncio.to_thread(lambda: self.kb(name).remove_documents(doc_ids))

    # -- what is stored ---------------------------------------------------------------------
    async def sources(self, name: str) -> list[tuple[str, int]]:
        """Each source's name and its number of documents."""
        return await asyncio.to_thread(lambda: self.kb(name).source_counts())

    async def stats(self, name: str) -> dict[str, object]:
        return await asyncio.to_thread(lambda: self.kb(name).stats())

    async def first_chunk_id(self, name: str, doc_id: str) -> str | None:
        return await asyncio.to_thread(lambda: self.kb(name).first_chunk_id(doc_id))

    # -- learned answers (knowledge/learned.py) ------------------------------------------------
    async def confirm(
        self, name: str, question: str, chunk_id: str, user_id: str | int, *, by_mod: bool
    ) -> LearnedEntry | None:
        return await asyncio.to_thread(
            lambda: self.kb(name).confirm(question, chunk_id, user_id, by_mod=by_mod)
        )

    async def refute(self, name: str, entry_id: int) -> bool:
        return await asyncio.to_thread(lambda: self.kb(name).learned.refute(entry_id))

    async def learned_entries(self, name: str) -> list[LearnedEntry]:
        return await asyncio.to_thread(lambda: self.kb(name).learned.entries())

    async def learned_entry(self, name: str, entry_id: int) -> LearnedEntry | None:
        return await asyncio.to_thread(lambda: self.kb(name).learned.get(entry_id))

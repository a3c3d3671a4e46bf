"""Greenroom's knowledge base: what callers (the bot, the command line) import.

Open a `Library` (one model, one vector store) and its `KnowledgeBase`s, or wrap it in a
`KnowledgeService` to call them from async code. The catalog (SQLite) and the vector store
(chromadb) stay behind these; operator tools (backup, migration, evaluation) keep their modules.
"""

from knowledge.answer import ANSWER, DECLINE, NOT_SURE_WRITTEN, SUGGEST, Answer, Citation
from knowledge.base import MAX_QUESTION_CHARS, KnowledgeBase, Library, Source, check_question
from knowledge.embedder import Embedder
from knowledge.errors import KnowledgeError, StoreUnavailable
from knowledge.indexing import Progress, SyncReport
from knowledge.learned import FAN_AGREEMENT, LearnedEntry
from knowledge.live_sync import LiveSync
from knowledge.retrieval import PUBLIC_ONLY, Hit, SearchFilter
from knowledge.service import KnowledgeService
from knowledge.source_registry import SourceRecord, SourceResult
from knowledge.source_syncer import SourceOutcome, SourceSyncer, SourceTokens
from knowledge.written import ModelSettings, OnText, Written, WrittenAnswerer

__all__ = [  # noqa: RUF022 (grouped by what a caller does, not sorted)
    # opening
    "Library",
    "KnowledgeBase",
    "KnowledgeService",
    "Embedder",
    "Source",
    # asking
    "Answer",
    "Citation",
    "ANSWER",
    "SUGGEST",
    "DECLINE",
    "NOT_SURE_WRITTEN",
    "Hit",
    "SearchFilter",
    "PUBLIC_ONLY",
    "check_question",
    "MAX_QUESTION_CHARS",
    "LearnedEntry",
    "FAN_AGREEMENT",
    # written answers (a language model's, checked)
    "WrittenAnswerer",
    "Written",
    "OnText",
    "ModelSettings",
    # syncing and sources
    "SyncReport",
    "Progress",
    "SourceSyncer",
    "SourceOutcome",
    "SourceRecord",
    "SourceResult",
    "SourceTokens",
    "LiveSync",
    # errors
    "KnowledgeError",
    "StoreUnavailable",
]

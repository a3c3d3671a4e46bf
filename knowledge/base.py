"""The knowledge base API the bot and the command line use: open, sync, ask, search."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from ingest.chunking import ChunkerSettings, chunk_document
from ingest.connectors.base import Fetched, FetchResult
from ingest.documents import Document, LoadResult
from ingest.plan import SyncPlan, plan_sync
from knowledge.answer import Answer, ConfidenceModel, compose_answer, learned_answer
from knowledge.catalog import Catalog
from knowledge.embedder import Embedder
from knowledge.errors import KnowledgeError  # raised here and re-exported
from knowledge.indexing import (
    Progress,
    SyncReport,
    apply_plan,
    collect_orphans,
    embed_chunks,
)
from knowledge.learned import LearnedAnswers
from knowledge.retrieval import (
    DEFAULT_RANKING,
    PUBLIC_ONLY,
    Hit,
    RankSettings,
    SearchFilter,
    best_passages,
    hybrid_search,
)
from knowledge.source_registry import SourceRegistry
from knowledge.vectors import ProcessLock, open_vector_store

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
MAX_QUESTION_CHARS = 500


class Source(Protocol):
    """Anything that yields documents and names itself: a folder, a vault, a remote source."""

    @property
    def source_name(self) -> str: ...

    def load(self) -> Iterable[LoadResult]: ...


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise KnowledgeError(
            f"{name!r} is not a valid knowledge base name: use letters, digits, '-' and '_'"
            " (up to 63 characters), for example 'default' or a Discord server id"
        )
    return name


class Library:
    """All knowledge bases under one data directory, sharing one model and one vector store."""

    def __init__(
        self,
        data_dir: Path,
        embedder: Embedder,
        chunker: ChunkerSettings | None = None,
        confidence: ConfidenceModel | None = None,
        ranking: RankSettings | None = None,
        *,
        chroma_url: str | None = None,
    ) -> None:
        """`chroma_url` (GREENROOM_CHROMA_URL) puts the vectors on that Chroma server rather
        than on disk in data_dir/chroma; the catalogs stay in the data directory either way."""
        self.data_dir = Path(data_dir)
        self.embedder = embedder
        self.chunker = chunker or ChunkerSettings(max_tokens=embedder.max_seq_length)
        self.confidence = confidence or ConfidenceModel()
        self.ranking = ranking or DEFAULT_RANKING
        self.vectors = open_vector_store(self.data_dir, embedder, chroma_url)
        self._open: dict[str, KnowledgeBase] = {}
        self._lock = threading.Lock()

    def kb_dir(self, name: str) -> Path:
        return self.data_dir / "kb" / validate_name(name)

    def names(self) -> list[str]:
        root = self.data_dir / "kb"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / "catalog.sqlite3").exists())

    def exists(self, name: str) -> bool:
        return (self.kb_dir(name) / "catalog.sqlite3").exists()

    def open(self, name: str) -> KnowledgeBase:
        with self._lock:
            kb = self._open.get(name)
            if kb is None:
                kb = KnowledgeBase(self, validate_name(name))
                self._open[name] = kb
            return kb

    def remove(self, name: str) -> bool:
        if not self.exists(name):
            return False
        kb = self.open(name)
        collections = [kb.collection_name, *kb.stale_collections()]
        with self._lock:
            self._open.pop(name, None)
        kb.catalog.close()
        for collection in collections:
            self.vectors.drop(collection)
        shutil.rmtree(self.kb_dir(name))
        return True

    def close(self) -> None:
        with self._lock:
            for kb in self._open.values():
                kb.catalog.close()
            self._open.clear()
        self.vectors.close()


class KnowledgeBase:
    """One knowledge base: a catalog (manifest, chunk text, lexical index) and a collection."""

    def __init__(self, library: Library, name: str) -> None:
        self.library = library
        self.name = name
        self.embedder = library.embedder
        self.chunker = library.chunker
        self.catalog = Catalog(library.kb_dir(name) / "catalog.sqlite3")
        # One sync at a time per knowledge base, in this process and across processes (the bot
        # and `greenroom ingest`: see knowledge/vectors.py); re-entrant so the source registry
        # can hold it across storing a run and recording its result.
        self._sync_lock = ProcessLock(library.kb_dir(name) / "sync.lock")
        self.fingerprint = json.dumps(
            {"embedder": self.embedder.fingerprint(), "chunker": self.chunker.fingerprint()},
            sort_keys=True,
        )
        if self.catalog.get_meta("fingerprint") is None:
            self.catalog.set_meta("fingerprint", self.fingerprint)
            self.catalog.set_meta("collection", self._collection_name_for(self.fingerprint))

    @classmethod
    def open(cls, data_dir: Path, name: str = "default", embedder: Embedder | None = None):
        """Convenience for scripts: a library of one."""
        return Library(Path(data_dir), embedder or Embedder()).open(name)

    # -- collections ----------------------------------------------------------------------
    def _collection_name_for(self, fingerprint: str) -> str:
        digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:10]
        return f"kb-{self.name}-{digest}"

    @property
    def collection_name(self) -> str:
        return self.catalog.get_meta("collection") or self._collection_name_for(self.fingerprint)

    @property
    def collection(self):
        return self.library.vectors.collection(self.collection_name)

    def stale_collections(self) -> list[str]:
        """This knowledge base's collections other than the current one (older settings).

        Matched exactly (`kb-<name>-<10 hex digits>`, as `_collection_name_for` makes them):
        a prefix would also catch `demo-two`'s collections as stale ones of `demo`.
        """
        own = re.compile(rf"kb-{re.escape(self.name)}-[0-9a-f]{{10}}")
        current = self.collection_name
        return [n for n in self.library.vectors.names() if own.fullmatch(n) and n != current]

    # -- syncing ----------------------------------------------------------------------------
    @contextmanager
    def syncing(self) -> Iterator[None]:
        """Held while anything changes what this knowledge base stores: one writer at a time,
        in this process and across processes; re-entrant, so a caller may hold it across
        several changes (the source registry: storing a run, then recording its result)."""
        with self._sync_lock:
            yield

    @cached_property
    def sources(self) -> SourceRegistry:
        """The sources this knowledge base is synced from (kept in its catalog)."""
        return SourceRegistry(self)

    def sync(self, sources: Sequence[Source], progress: Progress | None = None) -> SyncReport:
        """Bring the knowledge base in line with the sources; safe to interrupt at any point."""
        with self.syncing():
            report = SyncReport()
            if self.catalog.get_meta("fingerprint") != self.fingerprint:
                report.merge(self._reembed_all(progress))
            for source in sources:
                report.merge(self._sync_source(source.source_name, source.load(), True, progress))
            collect_orphans(self.catalog, self.collection)
            return report

    def sync_results(
        self,
        source_name: str,
        results: Iterable[LoadResult | FetchResult],
        *,
        complete: bool = True,
        progress: Progress | None = None,
    ) -> SyncReport:
        """Sync one source from results already in hand (a connector's fetch run).

        `Unchanged` ids are kept as stored, a `LoadFailure` keeps the last good version, and
        unless the run was `complete` (and holds no `SourceFailed`) nothing is deleted.
        """
        with self.syncing():
            report = SyncReport()
            if self.catalog.get_meta("fingerprint") != self.fingerprint:
                report.merge(self._reembed_all(progress))
            report.merge(self._sync_source(source_name, results, complete, progress))
            collect_orphans(self.catalog, self.collection)
            return report

    def _sync_source(
        self,
        source_name: str,
        results: Iterable[LoadResult | FetchResult],
        complete: bool,
        progress: Progress | None,
    ) -> SyncReport:
        known = {
            doc_id: entry.content_hash
            for doc_id, entry in self.catalog.documents(source_name).items()
        }
        plan = plan_sync(known, _owned_by(source_name, results), complete=complete)
        return self._apply(plan, progress)

    def remove_source(self, source_name: str) -> SyncReport:
        """Remove every document a source brought in (vectors, chunks, lexical entries)."""
        with self.syncing():
            doc_ids = sorted(self.catalog.documents(source_name))
            return self._apply(SyncPlan(deleted=doc_ids), None)

    def add_documents(self, docs: Sequence[Document]) -> SyncReport:
        """Index documents given directly (a mod's answer, an approved clip's recipe)."""
        with self.syncing():
            known = self.catalog.documents()
            plan = SyncPlan()
            for doc in docs:
                if doc.doc_id not in known:
                    plan.new.append(doc)
                elif known[doc.doc_id].content_hash != doc.content_hash:
                    plan.changed.append(doc)
                else:
                    plan.unchanged.append(doc.doc_id)
            return self._apply(plan, None)

    def remove_documents(self, doc_ids: Sequence[str]) -> SyncReport:
        with self.syncing():
            known = self.catalog.documents()
            return self._apply(SyncPlan(deleted=[d for d in doc_ids if d in known]), None)

    def _apply(self, plan: SyncPlan, progress: Progress | None) -> SyncReport:
        return apply_plan(
            plan,
            catalog=self.catalog,
            collection=self.collection,
            embedder=self.embedder,
            settings=self.chunker,
            progress=progress,
        )

    def _reembed_all(self, progress: Progress | None) -> SyncReport:
        """A new model or chunker: build a new collection, then switch to it in one commit."""
        report = SyncReport()
        target_name = self._collection_name_for(self.fingerprint)
        target = self.library.vectors.collection(target_name)
        docs = self.catalog.stored_documents()
        log.info("embedder or chunker changed: re-embedding %d documents", len(docs))
        chunks_by_doc = {}
        passages = {}
        for done, doc in enumerate(docs, start=1):
            chunks = chunk_document(doc, self.embedder, self.chunker)
            chunks_by_doc[doc.doc_id] = chunks
            # No catalog: passages stored under the old settings are not reused.
            passages |= embed_chunks(
                [(doc, c) for c in chunks],
                target,
                None,
                self.embedder,
                report,
                window_sentences=self.chunker.window_sentences,
                window_stride=self.chunker.window_stride,
                window_prefix=self.chunker.window_prefix,
            )
            if progress:
                progress(done, len(docs))
        old = self.collection_name
        with self.catalog.transaction() as conn:
            self.catalog.replace_all_chunks(conn, chunks_by_doc, passages)
            self.catalog.set_meta("fingerprint", self.fingerprint, conn)
            self.catalog.set_meta("collection", target_name, conn)
        if old != target_name:
            self.library.vectors.drop(old)
        report.updated = len(docs)
        return report

    # -- asking ---------------------------------------------------------------------------
    @cached_property
    def learned(self) -> LearnedAnswers:
        """Questions confirmed as answered by a passage (knowledge/learned.py)."""
        return LearnedAnswers(self.catalog)

    def search(
        self,
        question: str,
        k: int = 5,
        search_filter: SearchFilter = PUBLIC_ONLY,
    ) -> list[Hit]:
        question = check_question(question)
        return self._search(question, self.embedder.encode_query(question), k, search_filter)

    def _search(
        self, question: str, vector: np.ndarray, k: int, search_filter: SearchFilter
    ) -> list[Hit]:
        return hybrid_search(
            question,
            vector,
            catalog=self.catalog,
            collection=self.collection,
            k=k,
            search_filter=search_filter,
            ranking=self.library.ranking,
        )

    def ask(
        self,
        question: str,
        k: int = 5,
        search_filter: SearchFilter = PUBLIC_ONLY,
        *,
        use_learned: bool = True,
    ) -> Answer:
        """An answer, suggestions or a decline, with citations. Private notes are never quoted.

        A question close to one confirmed earlier (knowledge/learned.py) is answered with the
        confirmed passage.
        """
        if search_filter.visibility != "public":
            search_filter = SearchFilter(search_filter.sources, search_filter.tags, "public")
        question = check_question(question)
        vector = self.embedder.encode_query(question)
        hits = self._search(question, vector, k, search_filter)
        if use_learned and (match := self.learned.match(vector)) is not None:
            chunk = self.catalog.get_chunks([match.entry.chunk_id]).get(match.entry.chunk_id)
            if chunk is not None and search_filter.admits(chunk):
                found = best_passages([chunk.chunk_id], vector, self.catalog).get(chunk.chunk_id)
                return learned_answer(
                    question,
                    Hit(
                        chunk=chunk,
                        score=match.similarity,
                        dense=None,
                        lexical=None,
                        dense_rank=None,
                        lexical_rank=None,
                        passage=found.best if found else None,
                        span=found.span if found else None,
                    ),
                    hits,
                    match.entry.id,
                    match.similarity,
                )
        return compose_answer(question, hits, self.library.confidence)

    def confirm(self, question: str, chunk_id: str, user_id: str | int, *, by_mod: bool):
        """Remember that a passage answered a question (a fan's or a mod's confirmation)."""
        question = check_question(question)
        vector = self.embedder.encode_query(question)
        return self.learned.confirm(question, vector, chunk_id, str(user_id), by_mod=by_mod)

    def counts(self) -> dict[str, int]:
        """Documents, chunks and sources in the catalog (the vector store is not asked)."""
        return self.catalog.stats()

    def source_counts(self) -> list[tuple[str, int]]:
        """Each source's name and how many documents it holds, by name."""
        return self.catalog.sources()

    def first_chunk_id(self, doc_id: str) -> str | None:
        """The id of a document's first passage (its lowest index), if it has any."""
        chunks = self.catalog.get_chunks(sorted(self.catalog.chunk_ids([doc_id])))
        return min(chunks.values(), key=lambda c: c.index).chunk_id if chunks else None

    def stats(self) -> dict[str, object]:
        stats: dict[str, object] = dict(self.catalog.stats())
        stats["name"] = self.name
        stats["vectors"] = self.collection.count()
        stats["collection"] = self.collection_name
        stats["model"] = self.embedder.name
        stats["store"] = self.library.vectors.describe()
        return stats


def _owned_by(
    source_name: str, results: Iterable[LoadResult | FetchResult]
) -> Iterator[LoadResult | FetchResult]:
    """Documents are stored under the source that synced them: the manifest is per source."""
    for result in results:
        if isinstance(result, Fetched):
            result = result.document
        if isinstance(result, Document) and result.source != source_name:
            result = dataclasses.replace(result, source=source_name)
        yield result


def check_question(question: str) -> str:
    question = " ".join(question.split())
    if not question:
        raise KnowledgeError("The question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise KnowledgeError(
            f"That question is {len(question):,} characters long; please keep it under"
            f" {MAX_QUESTION_CHARS} so I can find the right passage."
        )
    return question

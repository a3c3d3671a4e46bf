"""Applying a sync plan: embed what changed, store vectors, then commit the manifest rows.

Order matters for crash safety (kill -9 at any point): vectors are written first (upserts are
idempotent), then one SQLite transaction swaps the documents' chunk rows and manifest hashes,
and only then are the vectors that no chunk row points at deleted. Until the transaction commits
the old chunks answer questions; an interrupted run leaves documents whose hash is stale, so
the next run redoes exactly them. Vectors left behind are collected at the end of a sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.chunking import Chunk, ChunkerSettings, chunk_document
from ingest.documents import Document, LoadFailure
from ingest.plan import SyncPlan
from knowledge.catalog import Catalog
from knowledge.embedder import Embedder

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (documents done, documents to index)

BATCH_CHUNKS = 512  # chunks embedded per model call: large enough to sort by length well
# chromadb holds the GIL for a whole upsert (512 vectors: ~200 ms of frozen event loop in the
# bot); 64 per call keeps each freeze under ~90 ms at the same cost per vector.
UPSERT_CHUNKS = 64


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[LoadFailure] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0
    # Why a source could not be listed completely (nothing of it was removed this run).
    incomplete: list[str] = field(default_factory=list)
    # Ids a source called unchanged that the index does not hold: fetch them again next run.
    refetch: list[str] = field(default_factory=list)

    def merge(self, other: SyncReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.failed += other.failed
        self.chunks_embedded += other.chunks_embedded
        self.chunks_reused += other.chunks_reused
        self.seconds += other.seconds
        self.incomplete += other.incomplete
        self.refetch += other.refetch

    def summary(self) -> str:
        text = (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged},"
            f" removed {self.removed}, failed {len(self.failed)}"
        )
        if self.incomplete:
            text += f"; {len(self.incomplete)} source(s) not read completely, nothing removed"
        return text


def chunk_metadata(doc: Document, chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "visibility": doc.visibility,
    }
    for tag in doc.tags:
        meta[f"tag:{tag}"] = True
    return meta


def apply_plan(
    plan: SyncPlan,
    *,
    catalog: Catalog,
    collection: Any,
    embedder: Embedder,
    settings: ChunkerSettings,
    progress: Progress | None = None,
) -> SyncReport:
    started = time.perf_counter()
    report = SyncReport(
        added=len(plan.new),
        updated=len(plan.changed),
        unchanged=len(plan.unchanged),
        failed=list(plan.failed),
        incomplete=[plan.incomplete] if plan.incomplete else [],
        refetch=list(plan.refetch),
    )
    docs = plan.to_index
    done = 0
    batch: list[tuple[Document, list[Chunk]]] = []
    batch_size = 0
    for doc in docs:
        chunks = chunk_document(doc, embedder, settings)
        batch.append((doc, chunks))
        batch_size += len(chunks)
        if batch_size >= BATCH_CHUNKS:
            _index_batch(batch, catalog, collection, embedder, report)
            done += len(batch)
            if progress:
                progress(done, len(docs))
            batch, batch_size = [], 0
    if batch:
        _index_batch(batch, catalog, collection, embedder, report)
        done += len(batch)
        if progress:
            progress(done, len(docs))
    if plan.deleted:
        stale = catalog.chunk_ids(plan.deleted)
        with catalog.transaction() as conn:
            catalog.delete_documents(conn, plan.deleted)
        _delete_vectors(collection, stale)
        report.removed = len(plan.deleted)
    report.seconds = time.perf_counter() - started
    return report


def _index_batch(
    batch: Sequence[tuple[Document, list[Chunk]]],
    catalog: Catalog,
    collection: Any,
    embedder: Embedder,
    report: SyncReport,
) -> None:
    doc_ids = [doc.doc_id for doc, _ in batch]
    old_ids = catalog.chunk_ids(doc_ids)
    new_chunks = [(doc, c) for doc, chunks in batch for c in chunks]
    wanted = [c.chunk_id for _, c in new_chunks]
    # Vectors that exist already (same text in the same place, or left by an interrupted run)
    # are reused; only their metadata is refreshed.
    present = set(collection.get(ids=wanted, include=[])["ids"]) if wanted else set()
    to_embed = [(doc, c) for doc, c in new_chunks if c.chunk_id not in present]
    to_refresh = [(doc, c) for doc, c in new_chunks if c.chunk_id in present]
    if to_embed:
        vectors = embedder.encode([c.embed_text for _, c in to_embed])
        for i in range(0, len(to_embed), UPSERT_CHUNKS):
            part = to_embed[i : i + UPSERT_CHUNKS]
            collection.upsert(
                ids=[c.chunk_id for _, c in part],
                embeddings=vectors[i : i + len(part)],
                metadatas=[chunk_metadata(doc, c) for doc, c in part],
            )
    if to_refresh:
        collection.update(
            ids=[c.chunk_id for _, c in to_refresh],
            metadatas=[chunk_metadata(doc, c) for doc, c in to_refresh],
        )
    with catalog.transaction() as conn:
        for doc, chunks in batch:
            catalog.replace_document(conn, doc, chunks)
    _delete_vectors(collection, old_ids - set(wanted))
    report.chunks_embedded += len(to_embed)
    report.chunks_reused += len(to_refresh)


def _delete_vectors(collection: Any, ids: set[str]) -> None:
    ids_list = sorted(ids)
    for i in range(0, len(ids_list), 1000):
        collection.delete(ids=ids_list[i : i + 1000])


def collect_orphans(catalog: Catalog, collection: Any) -> int:
    """Delete vectors that no chunk row points at (left by a run killed mid-way)."""
    stats = catalog.stats()
    if collection.count() == stats["chunks"]:
        return 0
    stored = set(collection.get(include=[])["ids"])
    orphans = stored - catalog.chunk_ids()
    _delete_vectors(collection, orphans)
    if orphans:
        log.info("removed %d vectors left by an interrupted sync", len(orphans))
    return len(orphans)

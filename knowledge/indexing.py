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

import numpy as np

from ingest.chunking import Chunk, ChunkerSettings, chunk_document
from ingest.documents import Document, LoadFailure
from ingest.plan import SyncPlan
from ingest.windows import sentence_windows, window_embed_text
from knowledge.catalog import Catalog, Passage
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
    windows_embedded: int = 0
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
        self.windows_embedded += other.windows_embedded
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
            _index_batch(batch, catalog, collection, embedder, settings, report)
            done += len(batch)
            if progress:
                progress(done, len(docs))
            batch, batch_size = [], 0
    if batch:
        _index_batch(batch, catalog, collection, embedder, settings, report)
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
    settings: ChunkerSettings,
    report: SyncReport,
) -> None:
    doc_ids = [doc.doc_id for doc, _ in batch]
    old_ids = catalog.chunk_ids(doc_ids)
    new_chunks = [(doc, c) for doc, chunks in batch for c in chunks]
    passages = embed_chunks(
        new_chunks,
        collection,
        catalog,
        embedder,
        report,
        window_sentences=settings.window_sentences,
        window_stride=settings.window_stride,
        window_prefix=settings.window_prefix,
    )
    with catalog.transaction() as conn:
        for doc, chunks in batch:
            catalog.replace_document(conn, doc, chunks, passages)
    _delete_vectors(collection, old_ids - {c.chunk_id for _, c in new_chunks})


def embed_chunks(
    pairs: Sequence[tuple[Document, Chunk]],
    collection: Any,
    catalog: Catalog | None,
    embedder: Embedder,
    report: SyncReport,
    *,
    window_sentences: int = 3,
    window_stride: int = 3,
    window_prefix: bool = True,
) -> dict[str, list[Passage]]:
    """Store the chunks' vectors in the collection and return every chunk's passages.

    Vectors that exist already (same text in the same place, or left by an interrupted run)
    are reused, and so are the passages the catalog holds for an unchanged chunk (pass no
    catalog when the settings changed). Everything new is encoded in one call, so the model
    sorts chunks and windows by length together.
    """
    wanted = [c.chunk_id for _, c in pairs]
    present = set(collection.get(ids=wanted, include=[])["ids"]) if wanted else set()
    stored = catalog.passages(wanted) if catalog is not None else {}
    texts: list[str] = []
    jobs: list[tuple[Chunk, int, int, int]] = []  # (chunk, passage idx, start, end)
    from_store: list[str] = []  # chunk vectors to read back from the collection
    for _, c in pairs:
        if c.chunk_id not in present:
            texts.append(c.embed_text)
            jobs.append((c, 0, 0, len(c.text)))
        if c.chunk_id in stored:
            continue
        if c.chunk_id in present:
            from_store.append(c.chunk_id)
        windows = sentence_windows(c.text, window_sentences, window_stride)
        for n, w in enumerate(windows, start=1):
            texts.append(window_embed_text(c.prefix if window_prefix else "", w.text_in(c.text)))
            jobs.append((c, n, w.start, w.end))
    vectors = embedder.encode(texts)
    passages: dict[str, list[Passage]] = {cid: list(ps) for cid, ps in stored.items()}
    fresh: list[tuple[Document, Chunk, np.ndarray]] = []
    by_id = {c.chunk_id: doc for doc, c in pairs}
    for (c, idx, start, end), vector in zip(jobs, vectors, strict=True):
        if idx == 0:
            fresh.append((by_id[c.chunk_id], c, vector))
        passages.setdefault(c.chunk_id, []).append(Passage(idx, start, end, vector))
    if from_store:
        got = collection.get(ids=from_store, include=["embeddings"])
        lengths = {c.chunk_id: len(c.text) for _, c in pairs}
        for cid, vector in zip(got["ids"], got["embeddings"], strict=True):
            passages.setdefault(cid, []).insert(
                0, Passage(0, 0, lengths[cid], np.asarray(vector, dtype=np.float32))
            )
    for i in range(0, len(fresh), UPSERT_CHUNKS):
        part = fresh[i : i + UPSERT_CHUNKS]
        collection.upsert(
            ids=[c.chunk_id for _, c, _ in part],
            embeddings=np.stack([v for _, _, v in part]),
            metadatas=[chunk_metadata(doc, c) for doc, c, _ in part],
        )
    refresh = [(by_id[cid], cid) for cid in wanted if cid in present]
    if refresh:
        collection.update(
            ids=[cid for _, cid in refresh],
            metadatas=[chunk_metadata(doc, c) for doc, c in pairs if c.chunk_id in present],
        )
    report.chunks_embedded += len(fresh)
    report.chunks_reused += len(refresh)
    report.windows_embedded += len(jobs) - len(fresh)
    return passages


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

"""Hybrid retrieval: dense (chromadb) and lexical (FTS5 BM25) candidates fused by rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.documents import PUBLIC
from knowledge.catalog import Catalog, StoredChunk

RRF_K = 60  # the usual reciprocal-rank-fusion constant
CANDIDATES = 40  # candidates taken from each retriever before fusion


@dataclass(frozen=True)
class SearchFilter:
    """Narrow a search to some sources, tags (all must match) or one visibility."""

    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    visibility: str | None = None

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        clauses += [{f"tag:{t}": True} for t in self.tags]
        if self.visibility:
            clauses.append({"visibility": self.visibility})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def admits(self, chunk: StoredChunk) -> bool:
        return (
            (not self.sources or chunk.source in self.sources)
            and all(t in chunk.tags for t in self.tags)
            and (self.visibility is None or chunk.visibility == self.visibility)
        )


PUBLIC_ONLY = SearchFilter(visibility=PUBLIC)


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float  # fused rank score
    dense: float | None  # cosine similarity, when the dense retriever found it
    lexical: float | None  # BM25 score, when the lexical retriever found it
    dense_rank: int | None
    lexical_rank: int | None


def hybrid_search(
    question: str,
    query_vector: np.ndarray,
    *,
    catalog: Catalog,
    collection: Any,
    k: int = 5,
    search_filter: SearchFilter = PUBLIC_ONLY,
    dense_weight: float = 1.0,
    lexical_weight: float = 0.7,
) -> list[Hit]:
    """Top-k chunks for a question. The catalog is the authority on what may be shown."""
    # No count() first: it costs ~15 ms at 100k vectors, and chromadb returns what it has.
    dense = _dense(query_vector, collection, CANDIDATES, search_filter)
    lexical = catalog.lexical_search(question, CANDIDATES)
    fused: dict[str, float] = {}
    for rank, (cid, _) in enumerate(dense):
        fused[cid] = fused.get(cid, 0.0) + dense_weight / (RRF_K + rank + 1)
    for rank, (cid, _) in enumerate(lexical):
        fused[cid] = fused.get(cid, 0.0) + lexical_weight / (RRF_K + rank + 1)
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    chunks = catalog.get_chunks(order[: k * 4])
    dense_at = {cid: (rank, sim) for rank, (cid, sim) in enumerate(dense)}
    lexical_at = {cid: (rank, score) for rank, (cid, score) in enumerate(lexical)}
    hits: list[Hit] = []
    for cid in order:
        chunk = chunks.get(cid)
        if chunk is None or not search_filter.admits(chunk):
            continue  # a vector whose chunk row is gone, or one this search may not show
        d, lx = dense_at.get(cid), lexical_at.get(cid)
        hits.append(
            Hit(
                chunk=chunk,
                score=fused[cid],
                dense=d[1] if d else None,
                lexical=lx[1] if lx else None,
                dense_rank=d[0] if d else None,
                lexical_rank=lx[0] if lx else None,
            )
        )
        if len(hits) == k:
            break
    return hits


def _dense(
    vector: np.ndarray, collection: Any, n: int, search_filter: SearchFilter
) -> list[tuple[str, float]]:
    # Filters in chromadb cost 10-100 ms; most stores have few private notes, so query without
    # one first and fall back to the filtered query only when too few candidates pass.
    result = collection.query(
        query_embeddings=[vector], n_results=n, include=["metadatas", "distances"]
    )
    pairs = [
        (cid, 1.0 - dist, meta)
        for cid, dist, meta in zip(
            result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True
        )
    ]
    where = search_filter.where()
    if where is None:
        return [(cid, sim) for cid, sim, _ in pairs]
    kept = [(cid, sim) for cid, sim, meta in pairs if _matches(meta or {}, search_filter)]
    if len(kept) >= n // 2:
        return kept
    result = collection.query(
        query_embeddings=[vector], n_results=n, where=where, include=["distances"]
    )
    return [
        (cid, 1.0 - dist)
        for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)
    ]


def _matches(meta: dict[str, Any], f: SearchFilter) -> bool:
    return (
        (not f.sources or meta.get("source") in f.sources)
        and all(meta.get(f"tag:{t}") for t in f.tags)
        and (f.visibility is None or meta.get("visibility") == f.visibility)
    )

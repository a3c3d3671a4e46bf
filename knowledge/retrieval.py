"""Hybrid retrieval: dense (chromadb) and lexical (FTS5 BM25) candidates fused by rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.documents import PUBLIC
from knowledge.catalog import Catalog, StoredChunk
from knowledge.readable import is_thin
from knowledge.rerank import PassageScores, RerankModel, candidate_features


@dataclass(frozen=True)
class RankSettings:
    """How candidates are gathered, fused and rescored (bench/tune_ranking.py measures them).

    Each retriever gives `candidates`; reciprocal-rank fusion with a small constant keeps the
    top ranks of either retriever near the top. The first `rescore` fused candidates are then
    scored by their best passage (the chunk or one of its sentence windows) and ordered by
    `passage_weight * passage cosine + fused RRF score` (the RRF score is scaled by `rrf_k`
    so that first place in one retriever counts 1/(1 + 1/rrf_k)).
    """

    candidates: int = 100
    rrf_k: int = 8
    rescore: int = 30
    passage_weight: float = 1.0
    rerank: RerankModel | None = None  # when set, orders the rescored pool instead


# Fitted by bench/tune_ranking.py on all of eval/corpus_questions.jsonl (230 questions); its
# 5-fold held-out figures are the ones reported: MRR@10 0.680, Recall@5 0.852 (0.527 / 0.709
# with the fusion before it). eval/examples_questions.jsonl was never fitted on.
DEFAULT_RANKING = RankSettings(
    candidates=100,
    rrf_k=20,
    rescore=30,
    rerank=RerankModel(
        weights=(
            -1.2564,
            13.6989,
            0.0403,
            0.7896,
            1.2766,
            1.2001,
            3.1535,
            0.7572,
            -0.2351,
            -1.0055,
            1.9814,
            -1.0409,
            0.4373,
        ),
        bias=-3.7452,
    ),
)


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
    score: float  # the final ranking score
    dense: float | None  # cosine similarity, when the dense retriever found it
    lexical: float | None  # BM25 score, when the lexical retriever found it
    dense_rank: int | None
    lexical_rank: int | None
    fused: float = 0.0  # reciprocal-rank fusion score, scaled so that a first place counts ~1
    passage: float | None = None  # cosine of the best passage (chunk or sentence window)
    span: tuple[int, int] | None = None  # that passage's offsets in the chunk text


@dataclass(frozen=True)
class Candidate:
    """A chunk either retriever proposed, with its rank (0 = first) in each."""

    chunk_id: str
    dense: float | None
    dense_rank: int | None
    lexical: float | None
    lexical_rank: int | None

    def fused(self, ranking: RankSettings) -> float:
        """Reciprocal-rank fusion, scaled by rrf_k so that a first place counts about 1."""
        k, n = ranking.rrf_k, ranking.candidates
        return sum(
            k / (k + r + 1) for r in (self.dense_rank, self.lexical_rank) if r is not None and r < n
        )


def gather_candidates(
    question: str,
    query_vector: np.ndarray,
    *,
    catalog: Catalog,
    collection: Any,
    search_filter: SearchFilter,
    n: int,
) -> list[Candidate]:
    """Up to n dense and n lexical candidates, unordered."""
    # No count() first: it costs ~15 ms at 100k vectors, and chromadb returns what it has.
    # A visibility filter that nothing stored fails (no private notes, the common case) is
    # no filter: chroma's metadata then stays unread (100 results: ~2.1 ms -> ~0.9 ms).
    if (
        search_filter.visibility is not None
        and not (search_filter.sources or search_filter.tags)
        and not catalog.has_visibility_other_than(search_filter.visibility)
    ):
        search_filter = SearchFilter()
    dense = _dense(query_vector, collection, n, search_filter)
    lexical = catalog.lexical_search(question, n)
    dense_at = {cid: (rank, sim) for rank, (cid, sim) in enumerate(dense)}
    lexical_at = {cid: (rank, score) for rank, (cid, score) in enumerate(lexical)}
    candidates = []
    for cid in dense_at.keys() | lexical_at.keys():
        d, lx = dense_at.get(cid), lexical_at.get(cid)
        candidates.append(
            Candidate(
                chunk_id=cid,
                dense=d[1] if d else None,
                dense_rank=d[0] if d else None,
                lexical=lx[1] if lx else None,
                lexical_rank=lx[0] if lx else None,
            )
        )
    return candidates


def best_passages(
    chunk_ids: list[str], query_vector: np.ndarray, catalog: Catalog
) -> dict[str, PassageScores]:
    """chunk id -> its best passage's cosine and span, and the whole chunk's cosine."""
    rows, matrix = catalog.passage_matrix(chunk_ids)
    if not rows:
        return {}
    sims = (matrix @ query_vector.astype(np.float32)).tolist()
    found: dict[str, PassageScores] = {}
    best: dict[str, int] = {}
    whole: dict[str, float] = {}
    for i, (cid, idx, _, _) in enumerate(rows):
        if cid not in best or sims[i] > sims[best[cid]]:
            best[cid] = i
        if idx == 0:
            whole[cid] = sims[i]
    for cid, i in best.items():
        found[cid] = PassageScores(
            best=sims[i], chunk=whole.get(cid, sims[i]), span=(rows[i][2], rows[i][3])
        )
    return found


def hybrid_search(
    question: str,
    query_vector: np.ndarray,
    *,
    catalog: Catalog,
    collection: Any,
    k: int = 5,
    search_filter: SearchFilter = PUBLIC_ONLY,
    ranking: RankSettings = DEFAULT_RANKING,
) -> list[Hit]:
    """Top-k chunks for a question. The catalog is the authority on what may be shown."""
    candidates = gather_candidates(
        question,
        query_vector,
        catalog=catalog,
        collection=collection,
        search_filter=search_filter,
        n=ranking.candidates,
    )
    return rank_candidates(
        question,
        candidates,
        query_vector,
        catalog=catalog,
        k=k,
        search_filter=search_filter,
        ranking=ranking,
    )


def rank_candidates(
    question: str,
    candidates: list[Candidate],
    query_vector: np.ndarray,
    *,
    catalog: Catalog,
    k: int,
    search_filter: SearchFilter,
    ranking: RankSettings = DEFAULT_RANKING,
) -> list[Hit]:
    """Fuse, rescore the best by their passages, and keep the k best the filter admits."""
    pool = _pool(
        candidates, query_vector, catalog, max(ranking.rescore, k * 4), search_filter, ranking
    )
    admitted, chunks, passages, fused = pool
    rescored = admitted[: ranking.rescore]
    scores = _rescore(rescored, passages, chunks, fused, ranking, question)
    rescored.sort(key=lambda c: (-scores[c.chunk_id], c.chunk_id))
    hits: list[Hit] = []
    for c in [*rescored, *admitted[ranking.rescore :]][:k]:
        found = passages.get(c.chunk_id)
        hits.append(
            Hit(
                chunk=chunks[c.chunk_id],
                score=scores.get(c.chunk_id, fused[c.chunk_id]),
                dense=c.dense,
                lexical=c.lexical,
                dense_rank=c.dense_rank,
                lexical_rank=c.lexical_rank,
                fused=fused[c.chunk_id],
                passage=found.best if found else None,
                span=found.span if found else None,
            )
        )
    return hits


def _pool(
    candidates: list[Candidate],
    query_vector: np.ndarray,
    catalog: Catalog,
    depth: int,
    search_filter: SearchFilter,
    ranking: RankSettings,
) -> tuple[list[Candidate], dict[str, StoredChunk], dict[str, PassageScores], dict[str, float]]:
    """The first `depth` fused candidates the filter admits, their chunks and passage scores."""
    fused = {c.chunk_id: c.fused(ranking) for c in candidates}
    order = sorted(
        (c for c in candidates if fused[c.chunk_id] > 0),
        key=lambda c: (-fused[c.chunk_id], c.chunk_id),
    )[:depth]
    chunks = catalog.get_chunks([c.chunk_id for c in order])
    admitted = [
        c
        for c in order
        if c.chunk_id in chunks
        and search_filter.admits(chunks[c.chunk_id])
        and not is_thin(chunks[c.chunk_id].text)
    ]  # a vector whose chunk row is gone, one this search may not show, or one with nothing
    # to read (a contributors list, a rule, an omitted import string) drops out here
    passages = best_passages(
        [c.chunk_id for c in admitted[: ranking.rescore]], query_vector, catalog
    )
    return admitted, chunks, passages, fused


def pool_features(
    question: str,
    candidates: list[Candidate],
    query_vector: np.ndarray,
    *,
    catalog: Catalog,
    search_filter: SearchFilter,
    ranking: RankSettings,
) -> tuple[list[StoredChunk], np.ndarray]:
    """The rescored pool's chunks and their rerank features (for fitting a RerankModel)."""
    admitted, chunks, passages, _ = _pool(
        candidates, query_vector, catalog, ranking.rescore, search_filter, ranking
    )
    return [chunks[c.chunk_id] for c in admitted], _features(admitted, passages, chunks, question)


def _features(
    pool: list[Candidate],
    passages: dict[str, PassageScores],
    chunks: dict[str, StoredChunk],
    question: str,
) -> np.ndarray:
    return candidate_features(
        question,
        [chunks[c.chunk_id] for c in pool],
        [passages.get(c.chunk_id) for c in pool],
        [c.dense for c in pool],
        [c.dense_rank for c in pool],
        [c.lexical for c in pool],
        [c.lexical_rank for c in pool],
    )


def _rescore(
    pool: list[Candidate],
    passages: dict[str, PassageScores],
    chunks: dict[str, StoredChunk],
    fused: dict[str, float],
    ranking: RankSettings,
    question: str,
) -> dict[str, float]:
    if ranking.rerank is not None and pool:
        features = _features(pool, passages, chunks, question)
        return dict(
            zip([c.chunk_id for c in pool], ranking.rerank.scores(features).tolist(), strict=True)
        )
    scores = {}
    for c in pool:
        found = passages.get(c.chunk_id)
        passage = found.best if found else (c.dense if c.dense is not None else 0.0)
        scores[c.chunk_id] = ranking.passage_weight * passage + fused[c.chunk_id]
    return scores


def _dense(
    vector: np.ndarray, collection: Any, n: int, search_filter: SearchFilter
) -> list[tuple[str, float]]:
    # Filters in chromadb cost 10-100 ms; most stores have few private notes, so query without
    # one first and fall back to the filtered query only when too few candidates pass.
    if search_filter.where() is None:
        result = collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [
            (cid, 1.0 - dist)
            for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)
        ]
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

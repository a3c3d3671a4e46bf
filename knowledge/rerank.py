"""Reranking the fused candidates by a logistic model over cheap signals of each candidate.

Retrieval finds the right chunk among the first 30 fused candidates for ~94% of casual
questions over the corpus, but puts it first for only ~40%: the order inside that pool is
where a fan's answer is won or lost. Each candidate gets a handful of signals that cost no
model call (its best passage's cosine, its own cosine, both retrievers' ranks, how many of the
question's words it holds, how strongly its document is supported by other candidates), and a
logistic model fitted by cross-validation (bench/tune_ranking.py) orders them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.catalog import StoredChunk, stem_set

RERANK_FEATURES = (
    "passage",  # cosine of the best passage (whole chunk or a sentence window)
    "passage_gap",  # that cosine minus the pool's best: how far behind the leader
    "chunk",  # cosine of the whole chunk
    "dense_rr",  # 1 / (1 + dense rank), 0 when the dense retriever missed it
    "lexical_rr",  # 1 / (1 + lexical rank)
    "bm25_rel",  # BM25 score over the pool's best BM25 score
    "coverage",  # share of the question's word stems found in the chunk and its headings
    "prefix_coverage",  # share found in the title and heading path alone
    "doc_support",  # other candidates of the same document in the pool (log 1 + n)
    "doc_best",  # best passage cosine of the same document's other candidates
    "passage_rr",  # 1 / (1 + rank of the best-passage cosine within the pool)
    "window_coverage",  # share of the question's word stems in the best passage alone
    "first_chunk",  # 1 for a document's first chunk (what a page is about)
)


@dataclass(frozen=True)
class PassageScores:
    best: float  # cosine of the best passage
    chunk: float  # cosine of the whole chunk
    span: tuple[int, int]  # the best passage's offsets in the chunk text


@dataclass(frozen=True)
class RerankModel:
    """Logistic weights over RERANK_FEATURES; only the order of the scores is used."""

    weights: tuple[float, ...]
    bias: float = 0.0

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ np.asarray(self.weights) + self.bias


def candidate_features(
    question: str,
    chunks: Sequence[StoredChunk],
    passages: Sequence[PassageScores | None],
    dense: Sequence[float | None],
    dense_ranks: Sequence[int | None],
    lexical: Sequence[float | None],
    lexical_ranks: Sequence[int | None],
) -> np.ndarray:
    """One row of RERANK_FEATURES per candidate (all sequences are aligned)."""
    q = stem_set(question)
    best = [
        p.best if p is not None else (d if d is not None else 0.0)
        for p, d in zip(passages, dense, strict=True)
    ]
    top = max(best, default=0.0)
    top_bm25 = max((s for s in lexical if s is not None), default=0.0)
    order = sorted(range(len(best)), key=lambda i: -best[i])
    passage_rank = {i: r for r, i in enumerate(order)}
    by_doc: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        by_doc.setdefault(chunk.doc_id, []).append(i)
    rows = []
    for i, chunk in enumerate(chunks):
        p, d = passages[i], dense[i]
        text = stem_set(chunk.prefix) | stem_set(chunk.text)
        siblings = [j for j in by_doc[chunk.doc_id] if j != i]
        rows.append(
            (
                best[i],
                best[i] - top,
                p.chunk if p is not None else (d if d is not None else 0.0),
                _reciprocal(dense_ranks[i]),
                _reciprocal(lexical_ranks[i]),
                (lexical[i] or 0.0) / top_bm25 if top_bm25 > 0 else 0.0,
                len(q & text) / len(q) if q else 0.0,
                len(q & stem_set(chunk.prefix)) / len(q) if q else 0.0,
                math.log1p(len(siblings)),
                max((best[j] for j in siblings), default=0.0),
                1.0 / (1 + passage_rank[i]),
                len(q & stem_set(chunk.text[p.span[0] : p.span[1]])) / len(q)
                if q and p is not None
                else 0.0,
                1.0 if chunk.index == 0 else 0.0,
            )
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(chunks), len(RERANK_FEATURES))


def _reciprocal(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (1 + rank)

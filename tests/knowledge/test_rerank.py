"""The reranker's signals, computed without the model."""

from __future__ import annotations

import numpy as np

from knowledge.catalog import StoredChunk
from knowledge.rerank import RERANK_FEATURES, PassageScores, RerankModel, candidate_features


def chunk(cid: str, doc: str, text: str, prefix: str = "Guide › Setup", index: int = 1):
    return StoredChunk(
        cid, doc, index, "Setup", prefix, text, "Guide", "g.md", None, "s", (), "public"
    )


def test_signals_of_a_small_pool() -> None:
    chunks = [
        chunk("a", "d1", "Set the bitrate to 6000 kbps for games.", index=0),
        chunk("b", "d1", "Use NVENC for the encoder."),
        chunk("c", "d2", "Rain loops well on a BRB screen.", prefix="BRB"),
    ]
    passages = [PassageScores(0.7, 0.6, (0, 20)), PassageScores(0.5, 0.5, (0, 10)), None]
    x = candidate_features(
        "what bitrate for games",
        chunks,
        passages,
        dense=[0.6, 0.5, 0.3],
        dense_ranks=[0, 1, 2],
        lexical=[8.0, None, 2.0],
        lexical_ranks=[0, None, 5],
    )
    f = {name: x[:, i] for i, name in enumerate(RERANK_FEATURES)}
    assert x.shape == (3, len(RERANK_FEATURES))
    assert list(f["passage"]) == [0.7, 0.5, 0.3]  # no passages stored: the dense cosine
    assert np.allclose(f["passage_gap"], [0.0, -0.2, -0.4])
    assert np.allclose(f["lexical_rr"], [1.0, 0.0, 1 / 6])
    assert list(f["bm25_rel"]) == [1.0, 0.0, 0.25]
    assert f["coverage"][0] == 1.0 and f["coverage"][2] == 0.0  # bitrate, games
    assert list(f["doc_support"]) == [np.log1p(1), np.log1p(1), 0.0]
    assert list(f["doc_best"]) == [0.5, 0.7, 0.0]
    assert np.allclose(f["passage_rr"], [1.0, 0.5, 1 / 3])
    assert list(f["first_chunk"]) == [1.0, 0.0, 0.0]
    # The best window, "Set the bitrate to 6", holds one of the two stems (bitrate, game).
    assert f["window_coverage"][0] == 0.5


def test_a_model_orders_by_its_score() -> None:
    model = RerankModel(weights=(1.0,) + (0.0,) * (len(RERANK_FEATURES) - 1), bias=-1.0)
    x = np.zeros((2, len(RERANK_FEATURES)))
    x[:, 0] = [0.2, 0.9]
    assert list(np.argsort(-model.scores(x))) == [1, 0]

"""The vector store: a chromadb PersistentClient on disk, one collection per knowledge base."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedder import Embedder

log = logging.getLogger(__name__)

SEARCH_EF = 128  # HNSW recall at 100k near-duplicates: default ef finds ~69% of the exact top 8


def _chroma_embedding_function(embedder: Embedder) -> Any:
    """Our model behind chromadb's interface, so chromadb never fetches its default model."""
    from chromadb.api.types import EmbeddingFunction

    class GreenroomEmbedding(EmbeddingFunction):
        def __init__(self) -> None:  # chromadb's base class warns without an explicit init
            pass

        def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
            return list(embedder.encode(list(input)))

        @staticmethod
        def name() -> str:
            return "greenroom"

        def get_config(self) -> dict[str, Any]:
            return {"fingerprint": embedder.fingerprint()}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> GreenroomEmbedding:
            raise ValueError("open the collection through knowledge.vectors.VectorStore")

        def default_space(self) -> str:
            return "cosine"

    return GreenroomEmbedding()


class VectorStore:
    """Chroma on disk. Vectors are added precomputed (we batch the model ourselves)."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        import chromadb
        from chromadb.config import Settings

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.embedder = embedder
        self.client = chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )
        self._ef = _chroma_embedding_function(embedder)
        self._handles: dict[str, Any] = {}  # opening a collection costs 2-5 ms per query

    def collection(self, name: str) -> Any:
        handle = self._handles.get(name)
        if handle is None:
            handle = self.client.get_or_create_collection(
                name,
                embedding_function=self._ef,
                configuration={"hnsw": {"space": "cosine", "ef_search": SEARCH_EF}},
                metadata={"embedder": self.embedder.fingerprint()},
            )
            self._handles[name] = handle
        return handle

    def drop(self, name: str) -> None:
        self._handles.pop(name, None)
        try:
            self.client.delete_collection(name)
        except Exception:
            log.debug("collection %s was already gone", name)

    def names(self) -> list[str]:
        return [c.name for c in self.client.list_collections()]

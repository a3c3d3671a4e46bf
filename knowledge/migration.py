"""`greenroom kb migrate --to-server URL`: the store on disk copied to a Chroma server.

Vectors are copied as they are (chromadb's own ids, vectors and metadata; nothing is
re-embedded), collection by collection, with the metadata and index settings each was made
with. The store on disk is held still while it is read (no process writes to it meanwhile), so
the copy is a consistent one. Each batch is read back from the server and compared (vectors to
float32 rounding, see TOLERANCE; metadata exactly), and each collection's count must match at
the end. Running it again redoes the copy and removes what
the server holds in those collections beyond it; the store on disk is never changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from knowledge.errors import KnowledgeError
from knowledge.vectors import ServerVectorStore, VectorStore, check_collection_name

BATCH = 1000  # vectors read and written per call
# chromadb 1.5.9's server reads JSON floats inexactly: 499 of the corpus's 4,275 vectors came
# back with components up to 1.5e-8 (a float32 step) off. A wrong vector is off by ~1e-2.
TOLERANCE = 1e-6


class MigrationError(KnowledgeError):
    """The copy on the server does not match the store on disk."""


@dataclass
class CopiedCollection:
    name: str
    vectors: int  # in the store on disk, and now on the server
    removed: int  # ids the server held in this collection that the store on disk does not
    seconds: float


@dataclass
class Migration:
    target: str  # the server and its database, as ServerVectorStore.describe() puts it
    collections: list[CopiedCollection] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def vectors(self) -> int:
        return sum(c.vectors for c in self.collections)


def migrate_to_server(
    source: VectorStore,
    target: ServerVectorStore,
    progress: Callable[[CopiedCollection], None] | None = None,
) -> Migration:
    """Copy every collection of `source` to `target` and check the copy (MigrationError if it
    differs; StoreUnavailable if the server stops answering: run it again)."""
    started = time.perf_counter()
    migration = Migration(target.describe())
    batch = min(BATCH, target.client.get_max_batch_size())
    with source.frozen():
        names = sorted(source.names())
        for name in names:  # a name the server refuses stops the run before anything is copied
            check_collection_name(name)
        for name in names:
            copied = _copy_collection(source, target, name, batch)
            migration.collections.append(copied)
            if progress is not None:
                progress(copied)
    migration.seconds = time.perf_counter() - started
    return migration


def _copy_collection(
    source: VectorStore, target: ServerVectorStore, name: str, batch: int
) -> CopiedCollection:
    started = time.perf_counter()
    src = source.collection(name)
    hnsw = {k: v for k, v in (src.configuration_json.get("hnsw") or {}).items() if v is not None}
    dst = target.collection(name, metadata=dict(src.metadata or {}) or None, hnsw=hnsw or None)
    ids = src.get(include=[])["ids"]
    held = set(dst.get(include=[])["ids"])
    for start in range(0, len(ids), batch):
        got = src.get(
            ids=ids[start : start + batch], include=["embeddings", "metadatas", "documents"]
        )
        records: dict[str, Any] = {
            "ids": got["ids"],
            "embeddings": np.asarray(got["embeddings"], dtype=np.float32),
            "metadatas": got["metadatas"],
        }
        if any(doc is not None for doc in got["documents"]):
            records["documents"] = got["documents"]
        dst.upsert(**records)
        _check_batch(name, got, dst.get(ids=got["ids"], include=["embeddings", "metadatas"]))
    extra = sorted(held - set(ids))
    for start in range(0, len(extra), batch):
        dst.delete(ids=extra[start : start + batch])
    count = dst.count()
    if count != len(ids):
        raise MigrationError(
            f"{name}: the server holds {count} vectors after the copy, the store on disk"
            f" {len(ids)}; run the migration again"
        )
    return CopiedCollection(name, len(ids), len(extra), time.perf_counter() - started)


def _check_batch(name: str, sent: dict[str, Any], stored: dict[str, Any]) -> None:
    """The server returns the vectors it was given (to float32 rounding) and their metadata."""
    back = {
        cid: (np.asarray(vector, dtype=np.float32), meta)
        for cid, vector, meta in zip(
            stored["ids"], stored["embeddings"], stored["metadatas"], strict=True
        )
    }
    for cid, vector, meta in zip(sent["ids"], sent["embeddings"], sent["metadatas"], strict=True):
        found = back.get(cid)
        if (
            found is None
            or np.max(np.abs(found[0] - np.asarray(vector, dtype=np.float32))) > TOLERANCE
            or (found[1] or None) != (meta or None)
        ):
            raise MigrationError(
                f"{name}: the server's copy of {cid!r} differs from the store on disk;"
                " run the migration again"
            )

"""Removing a knowledge base removes its own vectors and nobody else's."""

from __future__ import annotations

import hashlib

import pytest

from ingest.documents import Document
from knowledge.base import Library

pytestmark = pytest.mark.slow


def _note(kb_name: str) -> Document:
    return Document(
        doc_id=f"notes::{kb_name}.md",
        title=f"Notes of {kb_name}",
        text=f"The {kb_name} stream uses the moth alert for raids.",
        source="notes",
    )


def test_removing_a_kb_spares_kbs_whose_names_it_prefixes(library: Library) -> None:
    names = ["demo", "demo-two", "demo-2", "demo-0123456789", "demo-two-b"]
    for name in names:
        library.open(name).add_documents([_note(name)])
    # A collection "demo" left behind under an older model: it is demo's, so it goes too.
    stale = f"kb-demo-{hashlib.sha256(b'an older model').hexdigest()[:10]}"
    library.vectors.collection(stale).upsert(
        ids=["old-chunk"], embeddings=library.embedder.encode(["an old passage"])
    )
    others = {name: library.open(name).collection_name for name in names[1:]}

    assert library.open("demo").stale_collections() == [stale]
    assert library.open("demo-two").stale_collections() == []

    assert library.remove("demo")

    left = set(library.vectors.names())
    assert stale not in left
    assert not any(n.startswith("kb-demo-") and n not in others.values() for n in left)
    for name, collection in others.items():
        assert collection in left
        kb = library.open(name)
        assert kb.collection.count() == 1
        assert kb.search("which alert plays for raids?")[0].chunk.doc_id == f"notes::{name}.md"

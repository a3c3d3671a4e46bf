"""Incremental sync: new/changed/unchanged/deleted told apart; catalog, vectors and FTS in step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.chunking import ChunkerSettings, chunk_document
from ingest.documents import Document
from ingest.loaders import FolderSource
from knowledge.base import KnowledgeBase, KnowledgeError, Library
from knowledge.retrieval import SearchFilter

pytestmark = pytest.mark.slow

NOTES = {
    "alerts.md": "# Alerts\n\nRaids of five viewers or more play the big moth animation.\n",
    "schedule.md": "# Schedule\n\nStreams run Monday, Wednesday and Friday evenings.\n",
    "cat.md": "# Shelf\n\nThe zanzibarquux plushie sits on the shelf behind the desk.\n",
}


def write_notes(root: Path, notes: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in notes.items():
        (root / rel).write_text(text, encoding="utf-8")


def vector_ids(kb: KnowledgeBase) -> set[str]:
    return set(kb.collection.get(include=[])["ids"])


def assert_in_step(kb: KnowledgeBase) -> None:
    """Every chunk row has its vector and no vector lacks a row."""
    assert vector_ids(kb) == kb.catalog.chunk_ids()
    assert kb.collection.count() == kb.catalog.stats()["chunks"]


def lexical_docs(kb: KnowledgeBase, word: str) -> set[str]:
    hits = kb.catalog.lexical_search(word, 10)
    return {c.doc_id for c in kb.catalog.get_chunks([cid for cid, _ in hits]).values()}


class RenamedEmbedder:
    """The real model under another fingerprint, as if the model had been swapped."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def fingerprint(self) -> str:
        return json.dumps({**json.loads(self._inner.fingerprint()), "model": "another-model"})


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    write_notes(root, NOTES)
    return root


def test_incremental_sync_tells_changes_apart(notes: Path, library: Library) -> None:
    kb = library.open("fans")
    source = FolderSource(notes, name="notes")

    first = kb.sync([source])
    assert (first.added, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
    assert first.chunks_embedded == kb.catalog.stats()["chunks"] == 3
    assert_in_step(kb)
    assert lexical_docs(kb, "zanzibarquux") == {"notes::cat.md"}
    assert lexical_docs(kb, "wednesday") == {"notes::schedule.md"}

    again = kb.sync([source])
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert again.chunks_embedded == again.chunks_reused == 0

    before = kb.catalog.chunk_ids()
    cat_chunks = kb.catalog.chunk_ids(["notes::cat.md"])
    (notes / "schedule.md").write_text(
        "# Schedule\n\nStreams run Monday, Thursday and Friday evenings. Saturday is the"
        " quetzalfest art stream.\n",
        encoding="utf-8",
    )
    (notes / "faq.md").write_text("# FAQ\n\nEmotes were drawn by hand.\n", encoding="utf-8")
    (notes / "cat.md").unlink()
    report = kb.sync([source])

    assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 1, 1)
    loaded = {d.doc_id: d for d in source.load() if isinstance(d, Document)}
    expected_new = {
        c.chunk_id
        for doc_id in ("notes::schedule.md", "notes::faq.md")
        for c in chunk_document(loaded[doc_id], kb.embedder, kb.chunker)
    } - before
    assert report.chunks_embedded == len(expected_new) == 2  # only the changed and new notes
    assert_in_step(kb)
    assert set(kb.catalog.documents()) == {
        "notes::alerts.md",
        "notes::schedule.md",
        "notes::faq.md",
    }
    assert not cat_chunks & kb.catalog.chunk_ids()
    assert not cat_chunks & vector_ids(kb)
    # The lexical index follows the rows: deleted and replaced words are gone, new ones found.
    assert lexical_docs(kb, "zanzibarquux") == set()
    assert lexical_docs(kb, "wednesday") == set()
    assert lexical_docs(kb, "quetzalfest") == {"notes::schedule.md"}
    assert lexical_docs(kb, "emotes") == {"notes::faq.md"}
    assert kb.search("zanzibarquux plushie shelf")[0].chunk.doc_id != "notes::cat.md"


def test_a_tag_change_refreshes_metadata_without_embedding(notes: Path, library: Library) -> None:
    kb = library.open("fans")
    source = FolderSource(notes, name="notes")
    kb.sync([source])
    assert kb.search("moth raid animation", search_filter=SearchFilter(tags=("hype",))) == []

    (notes / "alerts.md").write_text("---\ntags: [hype]\n---\n" + NOTES["alerts.md"])
    report = kb.sync([source])

    assert (report.updated, report.chunks_embedded, report.chunks_reused) == (1, 0, 1)
    hits = kb.search("moth raid animation", search_filter=SearchFilter(tags=("hype",)))
    assert [h.chunk.doc_id for h in hits] == ["notes::alerts.md"]
    assert hits[0].chunk.tags == ("hype",)
    assert_in_step(kb)


def test_syncing_one_source_leaves_other_sources_alone(tmp_path: Path, library: Library) -> None:
    write_notes(tmp_path / "a", {"one.md": "Raids need five viewers.\n"})
    write_notes(tmp_path / "b", {"two.md": "Emotes are drawn by hand.\n"})
    kb = library.open("fans")
    kb.sync([FolderSource(tmp_path / "a", name="a"), FolderSource(tmp_path / "b", name="b")])

    shutil.rmtree(tmp_path / "b")
    (tmp_path / "b").mkdir()
    report = kb.sync([FolderSource(tmp_path / "a", name="a")])
    assert (report.unchanged, report.removed) == (1, 0)
    assert set(kb.catalog.documents()) == {"a::one.md", "b::two.md"}

    report = kb.sync([FolderSource(tmp_path / "b", name="b")])  # b is empty now
    assert report.removed == 1
    assert set(kb.catalog.documents()) == {"a::one.md"}
    assert_in_step(kb)


def test_chunker_change_reembeds_into_a_new_collection(notes: Path, library: Library) -> None:
    long_notes = {
        rel: text
        + "\n"
        + " ".join(f"Sentence {n} about {rel[:-3]} and the stream." for n in range(12))
        for rel, text in NOTES.items()
    }
    write_notes(notes, long_notes)
    kb = library.open("fans")
    kb.sync([FolderSource(notes, name="notes")])
    old_collection, old_chunks = kb.collection_name, kb.catalog.chunk_ids()
    assert old_collection in library.vectors.names()

    small = ChunkerSettings(max_tokens=library.embedder.max_seq_length, target_tokens=24)
    relib = Library(library.data_dir, library.embedder, chunker=small)
    try:
        kb2 = relib.open("fans")
        assert kb2.collection_name == old_collection  # still the old one until a sync
        report = kb2.sync([])  # the stored text is enough: the sources are not needed

        expected = {
            c.chunk_id
            for doc in kb2.catalog.stored_documents()
            for c in chunk_document(doc, relib.embedder, small)
        }
        assert kb2.catalog.chunk_ids() == expected
        assert len(expected) > len(old_chunks)
        assert report.updated == 3
        assert report.chunks_embedded == len(expected)
        assert kb2.collection_name != old_collection
        assert old_collection not in relib.vectors.names()
        assert kb2.stale_collections() == []
        assert_in_step(kb2)
        assert kb2.search("zanzibarquux plushie")[0].chunk.doc_id == "notes::cat.md"

        again = kb2.sync([FolderSource(notes, name="notes")])
        assert (again.unchanged, again.chunks_embedded) == (3, 0)
    finally:
        relib.close()


def test_embedder_fingerprint_change_reembeds_everything(notes: Path, library: Library) -> None:
    kb = library.open("fans")
    kb.sync([FolderSource(notes, name="notes")])
    old_collection, chunks = kb.collection_name, kb.catalog.chunk_ids()
    library.close()

    relib = Library(library.data_dir, RenamedEmbedder(library.embedder))
    try:
        kb2 = relib.open("fans")
        report = kb2.sync([FolderSource(notes, name="notes")])
        assert report.chunks_embedded == len(chunks)  # nothing reused from the old model
        assert kb2.catalog.chunk_ids() == chunks  # same chunker: same chunk ids
        assert kb2.collection_name != old_collection
        assert old_collection not in relib.vectors.names()
        assert json.loads(kb2.catalog.get_meta("fingerprint"))["embedder"] == (
            relib.embedder.fingerprint()
        )
        assert_in_step(kb2)
    finally:
        relib.close()


def test_add_and_remove_documents_directly(library: Library) -> None:
    kb = library.open("fans")
    answer = Document(
        doc_id="mod-answers::42",
        title="Mod answer: cat",
        text="The cat is called Pixel and she loves the warm capture card.",
        source="mod-answers",
        tags=("mod-answer",),
    )
    report = kb.add_documents([answer])
    assert (report.added, report.chunks_embedded) == (1, 1)
    assert kb.add_documents([answer]).unchanged == 1
    hits = kb.search("what is the cat called")
    assert hits[0].chunk.doc_id == "mod-answers::42"
    assert hits[0].chunk.source == "mod-answers"

    report = kb.remove_documents(["mod-answers::42", "never-existed"])
    assert report.removed == 1
    assert kb.catalog.stats()["chunks"] == kb.collection.count() == 0
    assert kb.search("what is the cat called") == []


def test_knowledge_bases_are_isolated_and_removable(notes: Path, library: Library) -> None:
    library.open("guild-1").sync([FolderSource(notes, name="notes")])
    other = library.open("guild-2")
    other.add_documents([Document("x::1", "Other", "Completely different guild text.")])
    assert all(h.chunk.doc_id == "x::1" for h in other.search("moth raid animation"))
    assert library.names() == ["guild-1", "guild-2"]

    collection = library.open("guild-1").collection_name
    assert library.remove("guild-1")
    assert library.names() == ["guild-2"]
    assert collection not in library.vectors.names()
    assert not library.kb_dir("guild-1").exists()
    assert not library.remove("guild-1")
    assert other.stats()["documents"] == 1


@pytest.mark.parametrize("name", ["", "has space", "../escape", "a" * 64, "-leading-dash"])
def test_bad_knowledge_base_names_are_refused(library: Library, name: str) -> None:
    with pytest.raises(KnowledgeError, match="not a valid knowledge base name"):
        library.open(name)


def test_stats(notes: Path, library: Library) -> None:
    kb = library.open("fans")
    kb.sync([FolderSource(notes, name="notes")])
    stats = kb.stats()
    assert stats["documents"] == 3
    assert stats["chunks"] == stats["vectors"] == 3
    assert stats["sources"] == 1
    assert stats["name"] == "fans"
    assert stats["collection"] == kb.collection_name


def test_a_store_from_before_windows_answers_then_gains_them(notes: Path, library: Library) -> None:
    """A knowledge base built without sentence windows (an older Greenroom) keeps answering
    when opened by this one, and its next sync stores every chunk's windows."""
    long_notes = {
        rel: text + "\n" + " ".join(f"Sentence {n} about {rel[:-3]}." for n in range(9))
        for rel, text in NOTES.items()
    }
    write_notes(notes, long_notes)
    before = ChunkerSettings(max_tokens=library.embedder.max_seq_length, window_sentences=0)
    old = Library(library.data_dir, library.embedder, chunker=before)
    try:
        old.open("fans").sync([FolderSource(notes, name="notes")])
        kb_old = old.open("fans")
        ids = sorted(kb_old.catalog.chunk_ids())
        # Without windows each chunk has only its whole-chunk passage.
        assert {len(p) for p in kb_old.catalog.passages(ids).values()} == {1}
    finally:
        old.close()

    kb = library.open("fans")
    assert kb.ask("zanzibarquux plushie").citations[0].path == "cat.md"
    kb.sync([FolderSource(notes, name="notes")])
    assert_in_step(kb)
    ids = sorted(kb.catalog.chunk_ids())
    stored = kb.catalog.passages(ids)
    assert stored.keys() == set(ids)
    assert max(len(p) for p in stored.values()) > 1  # the long chunks now have windows
    hit = kb.search("zanzibarquux plushie")[0]
    assert hit.chunk.path == "cat.md" and hit.span is not None

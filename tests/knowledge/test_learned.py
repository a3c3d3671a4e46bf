"""Learned answers: confirmations, paraphrases, agreement, undo, isolation, invalidation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import FolderSource
from knowledge.answer import ANSWER, ConfidenceModel
from knowledge.base import Library
from knowledge.learned import SAME_QUESTION

pytestmark = pytest.mark.slow

NOTES = {
    "brb.md": (
        "# BRB screen\n\nThe BRB screen is a rainy window loop. I generated it in Kling 2.1"
        " and looped it by hand in DaVinci Resolve. The rain sound is from a free library.\n"
    ),
    "gear.md": (
        "# Gear\n\nI use a Shure SM7B about 5 cm from my mouth, into a Focusrite interface."
        " The camera is a Sony ZV-E10 on a desk arm.\n"
    ),
    "secret.md": (
        "---\nvisibility: private\n---\n# Sponsor\n\nThe BRB sponsor deal pays EUR 3,200.\n"
    ),
}
QUESTION = "what did you use to make the brb screen?"
PARAPHRASE = "what did u use to make ur brb screen"
OTHER = "which microphone do you use"
# A model that never answers on its own: only a learned answer can be an *answer* here.
NEVER_ANSWERS = ConfidenceModel(answer_at=2.0, suggest_at=0.0)


def write_notes(root: Path, notes: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in notes.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def setup(tmp_path: Path, embedder):
    notes = write_notes(tmp_path / "notes", NOTES)
    library = Library(tmp_path / "data", embedder, confidence=NEVER_ANSWERS)
    kb = library.open("guild-1")
    kb.sync([FolderSource(notes, name="notes")])
    yield library, kb, notes
    library.close()


def brb_chunk(kb) -> str:
    hits = kb.search(QUESTION)
    assert hits[0].chunk.path == "brb.md"
    return hits[0].chunk.chunk_id


def test_paraphrases_are_close_and_other_questions_are_not(embedder) -> None:
    """The threshold the feature rests on, checked on the model itself."""
    q, p, o = embedder.encode([QUESTION, PARAPHRASE, OTHER], query=True)
    assert float(q @ p) >= SAME_QUESTION
    assert float(q @ o) < SAME_QUESTION


def test_a_mod_confirmation_answers_a_paraphrase(setup) -> None:
    _, kb, _ = setup
    assert kb.ask(PARAPHRASE).mode != ANSWER
    entry = kb.confirm(QUESTION, brb_chunk(kb), "mod-1", by_mod=True)
    assert entry is not None and entry.active

    answer = kb.ask(PARAPHRASE)
    assert answer.mode == ANSWER and answer.learned_id == entry.id
    assert "Kling 2.1" in answer.text and answer.citations[0].path == "brb.md"
    assert answer.to_json()["learned"] is True
    # A different question is not caught by it.
    assert kb.ask(OTHER).learned_id is None
    # And nothing changes for a caller that asks without learned answers.
    assert kb.ask(PARAPHRASE, use_learned=False).learned_id is None


def test_one_fan_is_not_enough_two_fans_are(setup) -> None:
    _, kb, _ = setup
    chunk = brb_chunk(kb)
    first = kb.confirm(QUESTION, chunk, "fan-1", by_mod=False)
    assert first is not None and not first.active
    again = kb.confirm(PARAPHRASE, chunk, "fan-1", by_mod=False)  # the same fan twice
    assert again is not None and again.id == first.id and not again.active
    assert kb.ask(PARAPHRASE).learned_id is None

    second = kb.confirm(PARAPHRASE, chunk, "fan-2", by_mod=False)
    assert second is not None and second.id == first.id and second.active
    assert (second.fan_votes, second.mod_votes) == (2, 0)
    assert kb.ask(PARAPHRASE).learned_id == first.id


def test_a_thumbs_down_undoes_it(setup) -> None:
    _, kb, _ = setup
    entry = kb.confirm(QUESTION, brb_chunk(kb), "mod-1", by_mod=True)
    answer = kb.ask(PARAPHRASE)
    assert answer.learned_id == entry.id
    assert kb.learned.refute(answer.learned_id)
    assert kb.ask(PARAPHRASE).learned_id is None
    assert kb.learned.entries() == []
    assert not kb.learned.refute(entry.id)  # already gone


def test_learned_answers_never_cross_knowledge_bases(setup) -> None:
    library, kb, notes = setup
    other = library.open("guild-2")
    other.sync([FolderSource(notes, name="notes")])
    kb.confirm(QUESTION, brb_chunk(kb), "mod-1", by_mod=True)
    assert kb.ask(PARAPHRASE).learned_id is not None
    assert other.ask(PARAPHRASE).learned_id is None
    assert other.learned.entries() == []


def test_a_private_passage_is_never_learned(setup) -> None:
    _, kb, _ = setup
    private = kb.catalog.chunk_ids(
        [d for d, e in kb.catalog.documents().items() if e.path == "secret.md"]
    )
    assert private
    assert (
        kb.confirm("how much does the sponsor pay", next(iter(private)), "mod", by_mod=True) is None
    )
    assert kb.learned.entries() == []


def test_a_changed_or_deleted_note_drops_its_entries(setup) -> None:
    _, kb, notes = setup
    brb = kb.confirm(QUESTION, brb_chunk(kb), "mod-1", by_mod=True)
    gear_chunk = kb.search(OTHER)[0].chunk
    assert gear_chunk.path == "gear.md"
    gear = kb.confirm(OTHER, gear_chunk.chunk_id, "mod-1", by_mod=True)
    assert {e.id for e in kb.learned.entries()} == {brb.id, gear.id}

    # The BRB note changes: what was learned from it no longer holds.
    (notes / "brb.md").write_text(
        "# BRB screen\n\nThe BRB screen is now a lo-fi moth study loop made in Runway.\n",
        encoding="utf-8",
    )
    kb.sync([FolderSource(notes, name="notes")])
    assert [e.id for e in kb.learned.entries()] == [gear.id]
    assert kb.ask(PARAPHRASE).learned_id is None

    # The gear note is deleted: its entry goes with it.
    (notes / "gear.md").unlink()
    kb.sync([FolderSource(notes, name="notes")])
    assert kb.learned.entries() == []
    assert kb.catalog.read("SELECT count(*) FROM learned")[0][0] == 0


def test_a_new_chunker_keeps_what_was_learned(setup, tmp_path: Path, embedder) -> None:
    """A re-embed with other chunker settings cuts new chunks from the same notes: each
    learned entry moves to the new chunk over the same text, and still answers."""
    from ingest.chunking import ChunkerSettings

    library, kb, notes = setup
    old_chunk = brb_chunk(kb)
    entry = kb.confirm(QUESTION, old_chunk, "mod-1", by_mod=True)
    library.close()

    # A one-token prefix ("BRB…"): other chunk ids, the same text.
    changed = ChunkerSettings(max_tokens=embedder.max_seq_length, max_prefix_tokens=1)
    library = Library(tmp_path / "data", embedder, chunker=changed, confidence=NEVER_ANSWERS)
    try:
        kb = library.open("guild-1")
        kb.sync([FolderSource(notes, name="notes")])  # the settings changed: re-embed all
        [moved] = kb.learned.entries()
        assert moved.id == entry.id
        assert moved.chunk_id != old_chunk and moved.chunk_id == brb_chunk(kb)
        answer = kb.ask(PARAPHRASE)
        assert answer.mode == ANSWER and answer.learned_id == entry.id
        assert "Kling 2.1" in answer.text
    finally:
        library.close()

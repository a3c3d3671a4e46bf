"""Private front matter fails closed: any way a person writes "private" keeps the note private."""

from __future__ import annotations

import logging

import pytest

from ingest.documents import PRIVATE, PUBLIC
from ingest.loaders.markdown import load_markdown

BODY = "# Sponsor deal\n\nThe sponsor pays per stream.\n"

PRIVATE_VARIANTS = {
    "plain": "---\nvisibility: private\n---\n",
    "blank line first": "\n---\nvisibility: private\n---\n",
    "blank lines and spaces first": "  \n\t\n---\nvisibility: private\n---\n",
    "capital key": "---\nVisibility: private\n---\n",
    "capital value": "---\nvisibility: Private\n---\n",
    "shouting": "---\nVISIBILITY: PRIVATE\n---\n",
    "quoted": "---\nvisibility: 'private'\n---\n",
    "space before the colon": "---\nvisibility : private\n---\n",
    "padded value": "---\nvisibility:    private   \n---\n",
    "three dots close": "---\nvisibility: private\n...\n",
    "flow mapping": "---\n{title: Deal, visibility: private}\n---\n",
    "public, then private again": "---\nvisibility: public\nvisibility: private\n---\n",
    "private, then public again": "---\nvisibility: private\nvisibility: public\n---\n",
    "two spellings disagree": "---\nvisibility: public\nVisibility: private\n---\n",
    "broken YAML around it": "---\ntitle: Deal\tnotes: [unclosed\nvisibility: private\n---\n",
}


@pytest.mark.parametrize("name", sorted(PRIVATE_VARIANTS))
def test_every_spelling_of_private_is_private(name: str) -> None:
    fields = load_markdown(PRIVATE_VARIANTS[name] + BODY, name="deal")
    assert fields["visibility"] == PRIVATE
    assert "visibility" not in fields["text"].lower()  # the front matter was read, not indexed
    assert fields["text"].lstrip().startswith("# Sponsor deal")


@pytest.mark.parametrize(
    "value", ["privat", "secret", "hidden", "", "[private]", "no", "unlisted", "publik"]
)
def test_an_unknown_visibility_is_private_with_a_warning(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ingest.loaders.markdown"):
        fields = load_markdown(f"---\nvisibility: {value}\n---\n{BODY}", name="deal")
    assert fields["visibility"] == PRIVATE
    [record] = caplog.records
    assert "deal" in record.getMessage() and "treated as private" in record.getMessage()


@pytest.mark.parametrize(
    "head",
    [
        "",
        "---\ntitle: Deal\n---\n",
        "---\nvisibility: public\n---\n",
        "\n---\nVisibility: Public\n---\n",
    ],
)
def test_public_notes_stay_public_without_a_warning(
    head: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        fields = load_markdown(head + BODY, name="deal")
    assert fields["visibility"] == PUBLIC
    assert not caplog.records


def test_a_rule_in_the_body_is_not_front_matter() -> None:
    """A `---` rule after text is Markdown, not a place to hide a visibility line."""
    fields = load_markdown("Intro line.\n\n---\nvisibility: private\n---\n", name="note")
    assert fields["visibility"] == PUBLIC
    assert "Intro line." in fields["text"]


@pytest.mark.slow
def test_a_public_note_marked_with_a_typo_stops_being_quoted(tmp_path, library) -> None:
    from ingest.loaders import FolderSource

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "deal.md").write_text(BODY, encoding="utf-8")
    kb = library.open("fans")
    source = FolderSource(notes, name="notes")
    kb.sync([source])
    assert [h.chunk.path for h in kb.search("how much does the sponsor pay")] == ["deal.md"]

    (notes / "deal.md").write_text("\n---\nVisibility: privat\n---\n" + BODY, encoding="utf-8")
    report = kb.sync([source])

    assert (report.updated, len(report.failed)) == (1, 0)
    assert kb.search("how much does the sponsor pay") == []
    assert kb.ask("how much does the sponsor pay").abstained

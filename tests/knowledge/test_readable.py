"""What counts as a passage a fan could read, and as two passages saying the same thing."""

from __future__ import annotations

import pytest

from ingest.loaders.markdown import ENCODED_PLACEHOLDER
from knowledge.readable import is_thin, readable_words, same_passage


@pytest.mark.parametrize(
    "text",
    [
        "- [GoWMan](https://www.twitch.tv/GoWMan){.twitch}\n {.contributors}",
        "---\n\n---",
        f"```text\n{ENCODED_PLACEHOLDER}\n```",
        "![trap-card.png](/assets/trap-card/images/trap-card.png)",
        "",
    ],
)
def test_chunks_with_nothing_to_read_are_thin(text: str) -> None:
    assert is_thin(text)


@pytest.mark.parametrize(
    "text",
    [
        "Deblock reduces blocky artifacts caused by low quality video compression.",
        "Save to ComfyUI/models/clip_vision",
        "```bash\npip install comfy-cli\n```",  # a real command is something to read
        "- [Walk on Sounds *Play a sound when a user walks in*](/extensions/walkon-sounds)",
    ],
)
def test_short_real_passages_are_not_thin(text: str) -> None:
    assert not is_thin(text)


def test_link_addresses_and_attributes_are_not_words() -> None:
    assert readable_words("See [the docs](https://example.com/a/b) {.is-info}") == [
        "see",
        "the",
        "docs",
    ]


def test_template_copies_are_the_same_passage() -> None:
    sounds = (
        "The first thing you will want to do is set the folder path that will contain all of "
        "the subfolders. There will be one subfolder per user that you want to have a custom sound."
    )
    images = sounds.replace("sound", "image")
    assert same_passage(sounds, images)
    assert not same_passage(sounds, "Set the bitrate to 6000 kbps for games with NVENC.")


def _hit(n: int, title: str, text: str):
    from knowledge.catalog import StoredChunk
    from knowledge.retrieval import Hit

    chunk = StoredChunk(
        f"c{n}", f"d{n}", 0, "Setup", f"{title} › Setup", text, title, f"{n}.md", None, "s", (),
        "public",
    )  # fmt: skip
    return Hit(chunk, 1.0 - n / 10, dense=0.5, lexical=None, dense_rank=n, lexical_rank=None)


def test_suggestions_skip_a_template_copy_and_show_the_next_passage() -> None:
    from knowledge.answer import suggestions_for

    sounds = (
        "Set the folder path that will contain all of the subfolders, one subfolder per user "
        "that you want to have a custom sound."
    )
    found = [
        _hit(1, "Walk-on sounds", sounds),
        _hit(2, "Walk-on images", sounds.replace("sound", "image")),
        _hit(3, "Alerts", "Raid alerts play the drum roll clip for raids of ten or more."),
        _hit(4, "Gear", "The capture card is an Elgato 4K60 on USB 3."),
    ]
    shown = [s.title for s in suggestions_for("where do walk on sounds go", found)]
    assert shown == ["Walk-on sounds", "Alerts", "Gear"]


def test_a_chunk_with_nothing_to_read_is_never_a_hit(library, tmp_path) -> None:
    from ingest.loaders import FolderSource
    from knowledge.retrieval import hybrid_search

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "death-counter.md").write_text(
        "# Death counter\n\nThe death counter adds one each time a mod types !death in chat.\n\n"
        "## Contributors\n\n- [GoWMan](https://www.twitch.tv/GoWMan){.twitch}\n{.contributors}\n",
        encoding="utf-8",
    )
    kb = library.open("notes")
    kb.sync([FolderSource(notes)])
    question = "who made the death counter, GoWMan?"
    found = hybrid_search(
        question, kb.embedder.encode_query(question), catalog=kb.catalog, collection=kb.collection
    )
    assert [h.chunk.text.split(" ")[:3] for h in found] == [["The", "death", "counter"]]

"""Chunking: nothing lost, stable content-derived ids, order, the model's token limit, headings."""

from __future__ import annotations

import bisect
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunking import (
    HEADING_SEPARATOR,
    Chunk,
    ChunkerSettings,
    WordTokenizer,
    chunk_document,
    split_sections,
)
from ingest.documents import Document

SMALL = ChunkerSettings(max_tokens=40, target_tokens=30, overlap_tokens=5, max_prefix_tokens=8)
WORDS = [
    "moth", "stream", "clip", "review", "mod", "scene", "bitrate", "overlay", "intro",
    "render", "prompt", "seed", "alert", "raid", "schedule", "camera", "microphone", "the",
    "a", "of", "and", "is", "to", "in", "it", "you", "that"
]  # fmt: skip

# -- generated Markdown ----------------------------------------------------------------------

word = st.one_of(
    st.sampled_from(WORDS),
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=14),
)
long_word = st.text(string.ascii_lowercase + "-_./", min_size=30, max_size=160)
odd_token = st.sampled_from(
    ["https://example.com/a/b?c=d&e=f", "C:\\obs\\scenes", "#hashtag", "@everyone", "日本語の字幕",
     "🦋✨", "naïve café", "1,000.50", "e.g.", "(see above)", "**bold**", "`code`", "—", "…"]
)  # fmt: skip


@st.composite
def sentence(draw, max_words: int = 30) -> str:
    parts = draw(st.lists(st.one_of(word, word, word, long_word, odd_token), max_size=max_words))
    return " ".join(parts) + draw(st.sampled_from(["", ".", "!", "?", ":", ";", ","]))


@st.composite
def paragraph(draw, max_sentences: int = 12) -> str:
    sentences = draw(st.lists(sentence(), min_size=1, max_size=max_sentences))
    joiner = draw(st.sampled_from([" ", "\n", "  "]))
    return joiner.join(sentences)


@st.composite
def atx_heading(draw) -> str:
    level = draw(st.integers(1, 6))
    return "#" * level + " " + draw(sentence(max_words=draw(st.sampled_from([4, 60]))))


@st.composite
def setext_heading(draw) -> str:
    title = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6)))
    return title + "\n" + draw(st.sampled_from(["=", "-"])) * draw(st.integers(1, 8))


@st.composite
def code_fence(draw) -> str:
    fence = draw(st.sampled_from(["```", "~~~"]))
    lines = draw(
        st.lists(st.one_of(sentence(max_words=12), st.just("# not a heading")), max_size=12)
    )
    return "\n".join([fence + draw(st.sampled_from(["", "bash", "python"])), *lines, fence])


@st.composite
def bullet_list(draw) -> str:
    items = draw(st.lists(sentence(max_words=20), min_size=1, max_size=15))
    numbered = draw(st.booleans())
    return "\n".join(f"{n}. {t}" if numbered else f"- {t}" for n, t in enumerate(items, 1))


block = st.one_of(
    paragraph(), paragraph(), atx_heading(), setext_heading(), code_fence(), bullet_list()
)


@st.composite
def markdown(draw, max_blocks: int = 12) -> str:
    blocks = draw(st.lists(block, min_size=1, max_size=max_blocks))
    seps = draw(st.lists(st.sampled_from(["\n\n", "\n\n\n", "\n"]), min_size=len(blocks)))
    return "".join(b + s for b, s in zip(blocks, seps, strict=False))


@st.composite
def document(draw, text_strategy=None) -> Document:
    text = draw(text_strategy if text_strategy is not None else markdown())
    title = draw(st.one_of(st.just(""), sentence(max_words=draw(st.sampled_from([3, 50])))))
    return Document(doc_id=draw(st.sampled_from(["n::a.md", "n::b/c.md"])), title=title, text=text)


# -- invariants ----------------------------------------------------------------------------


def assert_nothing_lost(doc: Document, chunks: list[Chunk]) -> None:
    """Every non-whitespace character of every section body lies inside some chunk's span."""
    for c in chunks:
        assert c.text == doc.text[c.start : c.end]
        assert c.text.strip(), "empty chunk"
    spans = sorted((c.start, c.end) for c in chunks)
    for section in split_sections(doc.text):
        pos = section.start  # everything before pos is covered or whitespace
        for start, end in spans:
            if end <= pos or start >= section.end:
                continue
            gap = doc.text[pos:start]
            assert not gap.strip(), f"{gap.strip()[:40]!r} at {pos} is in no chunk"
            pos = max(pos, end)
        rest = doc.text[pos : section.end]
        assert not rest.strip(), f"{rest.strip()[:40]!r} at {pos} is in no chunk"


def assert_in_order(doc: Document, chunks: list[Chunk]) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    starts = [s.start for s in split_sections(doc.text)]
    owner = [bisect.bisect_right(starts, c.start) - 1 for c in chunks]
    assert owner == sorted(owner)
    for a, b, na, nb in zip(chunks, chunks[1:], owner, owner[1:], strict=False):
        if na == nb:  # consecutive windows of one section move forward
            assert a.start < b.start <= a.end + len(doc.text[a.end : b.start])
            assert a.end < b.end
        else:
            assert a.end <= b.start


def assert_ids_sound(doc: Document, chunks: list[Chunk], tokenizer, cfg) -> None:
    ids = [c.chunk_id for c in chunks]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and set(i) <= set(string.hexdigits.lower()) for i in ids)
    assert [c.chunk_id for c in chunk_document(doc, tokenizer, cfg)] == ids


# -- properties with the model-free tokenizer ----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(doc=document())
def test_markdown_chunks_lose_nothing_and_keep_order(doc: Document) -> None:
    tokenizer = WordTokenizer()
    chunks = chunk_document(doc, tokenizer, SMALL)
    assert_nothing_lost(doc, chunks)
    assert_in_order(doc, chunks)
    assert_ids_sound(doc, chunks, tokenizer, SMALL)
    for c in chunks:
        assert len(tokenizer.token_spans(c.embed_text)) + SMALL.special_tokens <= SMALL.max_tokens


@settings(max_examples=60, deadline=None)
@given(doc=document(st.text(st.characters(exclude_categories=["Cs"]), max_size=400)))
def test_arbitrary_unicode_text_loses_nothing(doc: Document) -> None:
    chunks = chunk_document(doc, WordTokenizer(), SMALL)
    assert_nothing_lost(doc, chunks)
    assert_in_order(doc, chunks)


@settings(max_examples=25, deadline=None)
@given(doc=document(), shift=st.integers(1, 5))
def test_ids_are_content_derived_not_positional(doc: Document, shift: int) -> None:
    tokenizer = WordTokenizer()
    chunks = chunk_document(doc, tokenizer, SMALL)
    moved = Document(doc_id=doc.doc_id, title=doc.title, text="\n" * shift + doc.text)
    moved_chunks = chunk_document(moved, tokenizer, SMALL)
    assert [c.chunk_id for c in moved_chunks] == [c.chunk_id for c in chunks]
    assert [c.start for c in moved_chunks] == [c.start + shift for c in chunks]

    other = Document(doc_id=doc.doc_id + "-copy", title=doc.title, text=doc.text)
    assert not {c.chunk_id for c in chunk_document(other, tokenizer, SMALL)} & {
        c.chunk_id for c in chunks
    }


@settings(max_examples=25, deadline=None)
@given(doc=document(), extra=paragraph())
def test_appending_a_section_keeps_earlier_ids(doc: Document, extra: str) -> None:
    tokenizer = WordTokenizer()
    chunks = chunk_document(doc, tokenizer, SMALL)
    longer = Document(
        doc_id=doc.doc_id, title=doc.title, text=doc.text + "\n\n# Added later\n\n" + extra
    )
    longer_ids = [c.chunk_id for c in chunk_document(longer, tokenizer, SMALL)]
    assert longer_ids[: len(chunks)] == [c.chunk_id for c in chunks]


def test_identical_paragraphs_get_distinct_ids() -> None:
    doc = Document("n::a.md", "T", "Same words here.\n\n" * 3)
    chunks = chunk_document(doc, WordTokenizer(), ChunkerSettings(target_tokens=8))
    assert len(chunks) >= 2
    assert len({c.chunk_id for c in chunks}) == len(chunks)


# -- the real model's tokenizer ----------------------------------------------------------------


@st.composite
def long_markdown(draw) -> str:
    """Long documents that push every limit: huge paragraphs, words, headings, lists, code."""
    big = st.one_of(
        paragraph(max_sentences=40),
        st.lists(long_word, min_size=3, max_size=12).map(" ".join),
        atx_heading(),
        st.lists(sentence(max_words=25), min_size=20, max_size=40).map(
            lambda s: "#" * 2 + " " + " ".join(s)  # a heading far past the prefix budget
        ),
        code_fence(),
        bullet_list(),
        setext_heading(),
    )
    blocks = draw(st.lists(big, min_size=2, max_size=10))
    return "\n\n".join(blocks)


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(doc=document(long_markdown()))
def test_real_tokenizer_chunks_fit_the_model(embedder, doc: Document) -> None:
    cfg = ChunkerSettings(max_tokens=embedder.max_seq_length)
    chunks = chunk_document(doc, embedder, cfg)
    for c in chunks:
        assert embedder.count_tokens(c.embed_text) <= embedder.max_seq_length, c.embed_text
    assert_nothing_lost(doc, chunks)
    assert_in_order(doc, chunks)


@pytest.mark.slow
def test_real_tokenizer_single_huge_paragraph(embedder) -> None:
    text = " ".join(f"word{n} supercalifragilistic-{n}, and (more)." for n in range(1500))
    doc = Document("n::big.md", "A very long note", text)
    chunks = chunk_document(doc, embedder, ChunkerSettings(max_tokens=embedder.max_seq_length))
    assert len(chunks) > 10
    assert max(embedder.count_tokens(c.embed_text) for c in chunks) <= embedder.max_seq_length
    assert_nothing_lost(doc, chunks)


# -- headings ------------------------------------------------------------------------------------


def paths_and_bodies(text: str, title: str = "") -> list[tuple[tuple[str, ...], str]]:
    chunks = chunk_document(Document("n::x.md", title, text), WordTokenizer())
    return [(c.heading_path, c.text) for c in chunks]


def test_heading_paths_follow_nesting() -> None:
    text = (
        "Intro before any heading.\n\n"
        "# Setup\n\nSetup body.\n\n"
        "## Audio\n\nAudio body.\n\n"
        "### Mic\n\nMic body.\n\n"
        "## Video\n\nVideo body.\n\n"
        "#### Deep\n\nDeep body.\n\n"
        "# Rules\n\nRules body.\n"
    )
    assert paths_and_bodies(text) == [
        ((), "Intro before any heading."),
        (("Setup",), "Setup body."),
        (("Setup", "Audio"), "Audio body."),
        (("Setup", "Audio", "Mic"), "Mic body."),
        (("Setup", "Video"), "Video body."),
        (("Setup", "Video", "Deep"), "Deep body."),
        (("Rules",), "Rules body."),
    ]


def test_first_heading_equal_to_title_is_not_repeated() -> None:
    text = "# OBS Setup\n\nScenes.\n\n## Gaming profile\n\nCBR 6000.\n"
    chunks = chunk_document(Document("n::x.md", "OBS setup", text), WordTokenizer())
    assert [c.heading_path for c in chunks] == [(), ("Gaming profile",)]
    assert [c.prefix for c in chunks] == [
        "OBS setup",
        f"OBS setup{HEADING_SEPARATOR}Gaming profile",
    ]
    assert chunks[1].heading == "Gaming profile"
    assert chunks[1].embed_text == f"OBS setup{HEADING_SEPARATOR}Gaming profile\nCBR 6000."


@pytest.mark.parametrize("fence", ["```", "~~~", "   ```"])
def test_headings_inside_fenced_code_are_not_headings(fence: str) -> None:
    text = (
        "# Install\n\nRun this:\n\n"
        f"{fence}bash\n# update the package list\nsudo apt update\n## also not a heading\n"
        f"Title\n=====\n{fence.strip()}\n\n"
        "After the code.\n\n## Next\n\nNext body.\n"
    )
    sections = split_sections(text)
    assert [s.heading_path for s in sections] == [("Install",), ("Install", "Next")]
    install = text[sections[0].start : sections[0].end]
    assert "# update the package list" in install and "After the code." in install


def test_a_fence_of_the_other_kind_does_not_close_the_block() -> None:
    text = "```\n~~~\n# still code\n```\n\n# Real\n\nBody.\n"
    assert [s.heading_path for s in split_sections(text)] == [(), ("Real",)]


def test_setext_headings() -> None:
    text = (
        "HandBrake guide\n===============\n\nIntro.\n\n"
        "Presets\n-------\n\nPreset body.\n\n"
        "### Fast 1080p\n\nFast body.\n\n"
        "Encoding\n--------\n\nEncoding body.\n"
    )
    assert paths_and_bodies(text) == [
        (("HandBrake guide",), "Intro."),
        (("HandBrake guide", "Presets"), "Preset body."),
        (("HandBrake guide", "Presets", "Fast 1080p"), "Fast body."),
        (("HandBrake guide", "Encoding"), "Encoding body."),
    ]


def test_thematic_breaks_and_list_items_are_not_setext_headings() -> None:
    text = "Para one.\n\n---\n\nPara two.\n- item\n---\n\nPara three.\n"
    assert [s.heading_path for s in split_sections(text)] == [()]


def test_heading_markup_is_cleaned_and_closing_hashes_dropped() -> None:
    text = "## The **[BRB](https://x.y/brb)** `screen` ##\n\nBody.\n"
    assert paths_and_bodies(text) == [(("The BRB screen",), "Body.")]


def test_hash_without_space_is_not_a_heading() -> None:
    assert [s.heading_path for s in split_sections("#hashtag text\n\nMore.\n")] == [()]


def test_long_prefix_is_trimmed_to_the_prefix_budget() -> None:
    heading = " ".join(f"w{n}" for n in range(100))
    doc = Document("n::x.md", "Title", f"# {heading}\n\nBody text.\n")
    (chunk,) = chunk_document(doc, WordTokenizer(), ChunkerSettings(max_prefix_tokens=10))
    assert chunk.prefix.endswith("…")
    assert len(WordTokenizer().token_spans(chunk.prefix)) == 11  # 10 tokens and the ellipsis
    assert chunk.heading_path == (heading,)  # the heading itself is kept whole for citations


def test_empty_sections_make_no_chunks() -> None:
    assert chunk_document(Document("n::x.md", "T", "# A\n\n## B\n\n   \n"), WordTokenizer()) == []


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("prompts/neon-city-intro.md", f"prompts{HEADING_SEPARATOR}Neon city intro"),
        (
            "comfyui-docs/installation/system_requirements.mdx",
            f"comfyui docs{HEADING_SEPARATOR}installation{HEADING_SEPARATOR}Neon city intro",
        ),
        (
            "companion-docs/docs/user-guide/buttons/steps.md",
            f"companion docs{HEADING_SEPARATOR}buttons",
        ),
        ("faq.md", "Neon city intro"),  # a note at the root has no folder to name
        (None, "Neon city intro"),  # nor has a page from a connector
    ],
)
def test_the_prefix_starts_with_the_notes_top_folder_and_its_own(path, prefix) -> None:
    doc = Document("n::x", "Neon city intro", "Body text.\n", path=path)
    (chunk,) = chunk_document(doc, WordTokenizer())
    assert chunk.prefix.startswith(prefix)


def test_the_folder_prefix_can_be_switched_off() -> None:
    doc = Document("n::x", "Intro", "Body text.\n", path="prompts/intro.md")
    (chunk,) = chunk_document(doc, WordTokenizer(), ChunkerSettings(folder_prefix=False))
    assert chunk.prefix == "Intro"

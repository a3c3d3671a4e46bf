"""Sentence windows: every sentence is in a window, in order, with the configured overlap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.windows import sentence_spans, sentence_windows, window_embed_text

SENTENCE = st.text(alphabet="abcdefgh ", min_size=3, max_size=30).map(lambda s: s.strip() or "abc")


def test_lines_and_sentences_are_units_separators_are_not() -> None:
    text = "First sentence. Second one!\n- a list item\n---\n| x |\nThird? Yes."
    units = [text[a:b].strip() for a, b in sentence_spans(text)]
    assert units == ["First sentence.", "Second one!", "- a list item", "| x |", "Third?", "Yes."]


def test_a_short_chunk_has_no_windows() -> None:
    assert sentence_windows("One. Two. Three.") == []
    assert sentence_windows("One. Two. Three. Four.", size=0) == []


def test_windows_of_three_sentences() -> None:
    text = "S1. S2 is here. S3 too. S4 now. S5 end. S6 more. S7 last."
    windows = [w.text_in(text) for w in sentence_windows(text)]  # side by side, the default
    assert windows == ["S1. S2 is here. S3 too.", "S4 now. S5 end. S6 more.", "S7 last."]
    windows = [w.text_in(text) for w in sentence_windows(text, 3, 2)]
    assert windows == [
        "S1. S2 is here. S3 too.",
        "S3 too. S4 now. S5 end.",
        "S5 end. S6 more. S7 last.",
    ]
    assert window_embed_text("Title › Heading", windows[0]) == "Title › Heading\n" + windows[0]
    assert window_embed_text("", windows[0]) == windows[0]


@given(st.lists(SENTENCE, min_size=4, max_size=40), st.integers(2, 5), st.integers(1, 3))
def test_every_sentence_is_inside_a_window(sentences, size, stride) -> None:
    stride = min(stride, size)
    text = " ".join(s.rstrip(".") + "." for s in sentences)
    spans = sentence_spans(text)
    windows = sentence_windows(text, size, stride)
    if len(spans) <= size:
        assert windows == []
        return
    assert all(any(w.start <= a and b <= w.end for w in windows) for a, b in spans)
    starts = [w.start for w in windows]
    assert starts == sorted(set(starts))
    assert windows[-1].end == spans[-1][1]

"""Sentence windows inside a chunk: the fine-grained passages that are scored and shown.

A chunk holds up to ~200 word-pieces, and its one vector blurs every sentence in it; a casual
question often matches three sentences of it much better than the whole. So each chunk is also
cut into windows of a few consecutive sentences (or lines: lists and tables have no full
stops), each embedded with the chunk's title and heading prefix. Windows are computed at
ingest and stored beside the chunk; at question time they only cost a dot product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! or ? before whitespace; a line always ends a unit.
_UNIT = re.compile(r"[^\n]+?(?:[.!?](?=\s)|\n|$)")
_MIN_UNIT_CHARS = 3  # "---", "|" and similar separators are not sentences


@dataclass(frozen=True)
class Window:
    start: int  # character offsets in the chunk text
    end: int

    def text_in(self, chunk_text: str) -> str:
        return chunk_text[self.start : self.end].strip()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences and lines of a text, separators left out."""
    spans = []
    for match in _UNIT.finditer(text):
        unit = match.group(0).strip()
        if len(unit) >= _MIN_UNIT_CHARS and any(ch.isalnum() for ch in unit):
            spans.append(match.span())
    return spans


def sentence_windows(text: str, size: int = 3, stride: int = 3) -> list[Window]:
    """Windows of `size` consecutive sentences, `stride` apart, covering the whole text.

    A text of `size` sentences or fewer has no windows: the chunk itself is its one passage.
    """
    if size <= 0:  # windows switched off: the chunk is its only passage
        return []
    spans = sentence_spans(text)
    if len(spans) <= size:
        return []
    windows = []
    start = 0
    while True:
        part = spans[start : start + size]
        windows.append(Window(part[0][0], part[-1][1]))
        if start + size >= len(spans):
            break
        start += stride
    return windows


def window_embed_text(prefix: str, window_text: str) -> str:
    """What is embedded for a window: the chunk's title and heading path, then the window."""
    return f"{prefix}\n{window_text}" if prefix else window_text

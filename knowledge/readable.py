"""Is there anything in a passage a fan could read, and do two passages say the same thing?

Documentation sites leave chunks with nothing to read: a contributors list (`- [name](url)
{.contributors}`), a horizontal rule, a code fence that only holds the placeholder for an
omitted import string. Shown as an answer or a suggestion they take a place a real passage
should have; ranked, they push real passages down. And pages written from one template (a
"walk-on sounds" page beside a "walk-on images" page) give passages that differ in a word or
two: three suggestions should be three different things to read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice

from ingest.loaders.markdown import ENCODED_PLACEHOLDER

MIN_WORDS = 3  # "Deblock reduces blocky artifacts ..." is an answer; "- [GoWMan](url)" is not
SAME_PASSAGE = 0.6  # word-set overlap (Jaccard) above which two passages count as one

# What a reader would not read, matched left to right, or a word: a fence that holds an
# omitted import string (whole), a fence's opening line (its language) or its closing, an
# image, a link's address (its text is kept), a bare address, wiki.js / pandoc attributes
# ({.is-info}); a word is two letters or more ("---", "1.", "#" are not words).
_SCAN = re.compile(
    r"```[^\n]*\n(?:(?!```).)*?" + re.escape(ENCODED_PLACEHOLDER) + r"(?:(?!```).)*(?:```|\Z)"
    r"|```[^\n]*"
    r"|!\[[^\]]*\]\([^)]*\)"
    r"|\]\([^)]*\)"
    r"|https?://\S+"
    r"|\{[.#][^}]*\}"
    r"|(?P<word>[^\W\d_]{2,})",
    re.DOTALL,
)


def _words(text: str) -> Iterator[str]:
    for match in _SCAN.finditer(text):
        if (word := match.group("word")) is not None:
            yield word


def readable_words(text: str) -> list[str]:
    """The words a reader would read: no addresses, attributes or placeholder fences."""
    return [word.lower() for word in _words(text)]


def is_thin(text: str) -> bool:
    """True when a chunk holds fewer than MIN_WORDS readable words (it runs on every candidate
    of every question, so it stops at the MIN_WORDS-th word: prose gets there at once)."""
    return next(islice(_words(text), MIN_WORDS - 1, None), None) is None


def same_passage(a: str, b: str) -> bool:
    """True when two passages share most of their words (a near-copy from one template)."""
    x, y = set(readable_words(a)), set(readable_words(b))
    if not x or not y:
        return x == y
    return len(x & y) / len(x | y) > SAME_PASSAGE

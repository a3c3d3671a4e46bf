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

from ingest.loaders.markdown import ENCODED_PLACEHOLDER

MIN_WORDS = 3  # "Deblock reduces blocky artifacts ..." is an answer; "- [GoWMan](url)" is not
SAME_PASSAGE = 0.6  # word-set overlap (Jaccard) above which two passages count as one

_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|$)", re.DOTALL)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")  # an image shows nothing in a text answer
_LINK_TARGET = re.compile(r"\]\([^)]*\)")  # keep a link's text, drop its address
_URL = re.compile(r"https?://\S+")
_ATTRIBUTES = re.compile(r"\{[.#][^}]*\}")  # wiki.js / pandoc attributes: {.is-info}
_WORD = re.compile(r"[^\W\d_]{2,}")  # letters only: "---", "1.", "#" are not words


def readable_words(text: str) -> list[str]:
    """The words a reader would read: no addresses, attributes or placeholder fences."""
    text = _FENCE.sub(lambda m: "" if ENCODED_PLACEHOLDER in m.group(1) else m.group(1), text)
    text = _IMAGE.sub(" ", text)
    text = _LINK_TARGET.sub("]", text)
    text = _URL.sub(" ", text)
    text = _ATTRIBUTES.sub(" ", text)
    return _WORD.findall(text.lower())


# The same rules as readable_words in one left-to-right scan, for is_thin: it runs on every
# candidate of every question, and prose reaches MIN_WORDS within its first few words.
_SCAN = re.compile(
    r"```[^\n]*\n(?:(?!```).)*?" + re.escape(ENCODED_PLACEHOLDER) + r"(?:(?!```).)*(?:```|\Z)"
    r"|```[^\n]*"  # a fence's opening line (its language) or its closing
    r"|!\[[^\]]*\]\([^)]*\)"
    r"|\]\([^)]*\)"
    r"|https?://\S+"
    r"|\{[.#][^}]*\}"
    r"|(?P<word>[^\W\d_]{2,})",
    re.DOTALL,
)


def is_thin(text: str) -> bool:
    """True when a chunk holds fewer than MIN_WORDS readable words."""
    words = 0
    for match in _SCAN.finditer(text):
        if match.group("word") is not None:
            words += 1
            if words >= MIN_WORDS:
                return False
    return True


def same_passage(a: str, b: str) -> bool:
    """True when two passages share most of their words (a near-copy from one template)."""
    x, y = set(readable_words(a)), set(readable_words(b))
    if not x or not y:
        return x == y
    return len(x & y) / len(x | y) > SAME_PASSAGE

"""A clip's recipe as a knowledge-base document, for `/ask` to answer how it was made."""

from __future__ import annotations

import re

from bot.clips import Clip, recipe_document_text
from ingest.documents import Document

RECIPE_SOURCE = "clip-recipes"


def recipe_doc_id(clip: Clip) -> str:
    return f"{RECIPE_SOURCE}::{clip.root_id}"


def recipe_document(clip: Clip) -> Document:
    """The clip's recipe for the knowledge base, as one passage.

    The knowledge base cuts documents at headings, and the recipe's sections are a line or two
    each: "how did you make X?" then matched the one-line "Settings" section best and answered
    "No settings recorded.". As one passage the answer quotes the prompt.
    """
    title, markdown = recipe_document_text(clip)
    return Document(
        doc_id=recipe_doc_id(clip),
        title=title,
        text=_without_subheadings(markdown),
        source=RECIPE_SOURCE,
        metadata={"clip_id": str(clip.id), "version": str(clip.version)},
    )


_SUBHEADING = re.compile(r"#{2,6}[ \t]+(.+?)[ \t]*")


def _without_subheadings(markdown: str) -> str:
    """`## Prompt` becomes `Prompt:`, except inside code fences (a prompt is quoted as is)."""
    lines, fence = [], ""
    for line in markdown.splitlines():
        ticks = len(line) - len(line.lstrip("`"))
        if not fence and ticks >= 3:
            fence = "`" * ticks
        elif fence and line.strip() == fence:
            fence = ""
        elif not fence and (heading := _SUBHEADING.fullmatch(line)):
            line = f"{heading[1]}:"
        lines.append(line)
    return "\n".join(lines) + "\n"

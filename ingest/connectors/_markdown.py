"""Small Markdown-writing helpers shared by the HTML and Notion renderers."""

from __future__ import annotations

import re

_LEADING_HASH = re.compile(r"^([ \t]{0,3})#", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


def escape_heading_markers(text: str) -> str:
    """Escape a `#` that starts a line of body text, so the chunker never sees a fake heading."""
    return _LEADING_HASH.sub(r"\1\\#", text)


def fenced(code: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside the code."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.rstrip()}\n{fence}"


def inline_code(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def emphasised(text: str, marker: str) -> str:
    """Wrap `text` in `marker`, keeping surrounding spaces outside (Markdown needs that)."""
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def table(rows: list[list[str]]) -> str:
    """A Markdown pipe table; the first row is the header."""
    width = max((len(r) for r in rows), default=0)
    if not width:
        return ""
    cells = [
        [c.replace("|", "\\|").replace("\n", " ").strip() for c in r] + [""] * (width - len(r))
        for r in rows
    ]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines)


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


def join_blocks(blocks: list[str]) -> str:
    """Join blocks with blank lines and squeeze runs of blank lines."""
    text = "\n\n".join(b.strip("\n") for b in blocks if b.strip())
    return _BLANK_RUNS.sub("\n\n", text).strip()


def quote(text: str) -> str:
    """Prefix every line with `> ` so blank lines stay inside the quote."""
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))

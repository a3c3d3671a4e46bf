"""Markdown, MDX and Obsidian notes: YAML front matter, wikilinks and JSX turned into text."""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath

import yaml

from ingest.documents import PRIVATE, PUBLIC
from ingest.loaders.text import UnreadableFile

log = logging.getLogger(__name__)

# Blank lines before the opening `---` are allowed: an editor that adds one must not turn a
# private note's front matter into public body text.
_FRONT_MATTER = re.compile(
    r"\A(?:[ \t]*\n)*---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL
)
_VISIBILITY_LINE = re.compile(r"^[ \t]*visibility[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)
_EMBED = re.compile(r"!\[\[[^\]]*\]\]")  # Obsidian embeds (images, transclusions)
_WIKILINK = re.compile(r"\[\[([^\]|#]*)(?:#([^\]|]*))?(?:\|([^\]]*))?\]\]")
_COMMENT = re.compile(r"<!--.*?-->|%%.*?%%", re.DOTALL)
_MDX_IMPORT = re.compile(r"^(?:import|export)\s.*$", re.MULTILINE)
_JSX_TAG = re.compile(r"</?[A-Z][\w.]*(?:\s[^<>]*?)?/?>")
_ENCODED = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")
ENCODED_PLACEHOLDER = "(long encoded import string omitted)"
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_FENCED = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)


def parse_front_matter(text: str) -> tuple[dict, str]:
    """Split YAML front matter from the body; broken YAML is reported, not ignored."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        # BaseLoader keeps every scalar a string: no surprise dates, booleans or octal numbers.
        meta = yaml.load(match.group(1) or "", Loader=yaml.BaseLoader) or {}
    except (yaml.YAMLError, ValueError) as exc:
        # Wiki exports often carry small YAML flaws (a tab in a value): read plain `key: value`
        # lines rather than lose the note, and refuse only front matter with no such lines.
        meta = _simple_front_matter(match.group(1) or "")
        if not meta:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 2})" if mark else ""
            raise UnreadableFile(f"has invalid YAML front matter{where}") from None
    if not isinstance(meta, dict):
        raise UnreadableFile("has front matter that is not a YAML mapping")
    # Keys are matched without regard to case (`Visibility:`); where two spellings of one key
    # disagree, the visibility rule below sees every one of them.
    visibilities = [v for k, v in meta.items() if str(k).strip().lower() == "visibility"]
    visibilities += [m.group(1) for m in _VISIBILITY_LINE.finditer(match.group(1) or "")]
    meta = {str(k).strip().lower(): v for k, v in meta.items()}
    if visibilities:
        meta["visibility"] = visibilities
    # Keep offsets honest: the body is what follows the front matter.
    return meta, text[match.end() :]


def _simple_front_matter(block: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in block.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and not k.startswith((" ", "\t"))}


def _wikilink(match: re.Match[str]) -> str:
    target, heading, alias = match.group(1), match.group(2), match.group(3)
    if alias:
        return alias.strip()
    name = PurePosixPath(target.strip()).name if target.strip() else ""
    if heading:
        return f"{name} ({heading.strip()})" if name else heading.strip()
    return name


def clean_markdown(body: str, *, mdx: bool = False) -> str:
    body = _COMMENT.sub("", body)
    # Import strings (Streamer.bot exports, data URIs) are long base64 runs: nobody asks about
    # their bytes, and on the shared corpus they were 44% of all embedded tokens.
    body = _ENCODED.sub(ENCODED_PLACEHOLDER, body)
    body = _EMBED.sub("", body)
    body = _WIKILINK.sub(_wikilink, body)
    if mdx:
        body = _MDX_IMPORT.sub("", body)
        body = _JSX_TAG.sub("", body)
    return body


def _as_tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value))
    return tuple(sorted({str(t).strip().lstrip("#").lower() for t in items if str(t).strip()}))


def load_markdown(text: str, *, name: str, mdx: bool = False) -> dict:
    """Fields for a Document from Markdown text; `name` is the file stem, the last-resort title."""
    meta, body = parse_front_matter(text)
    body = clean_markdown(body, mdx=mdx)
    h1 = _H1.search(_FENCED.sub("", body))  # a `# comment` in a code block is not a title
    title = str(meta.get("title") or (h1.group(1).strip() if h1 else "") or name)
    visibility = _visibility(meta.get("visibility", []), name)
    extra = {
        key: _scalar(meta[key])
        for key in ("prompt", "tool", "settings", "description", "date")
        if key in meta and meta[key] is not None
    }
    url = meta.get("url") or meta.get("permalink")
    return {
        "title": title,
        "text": body,
        "tags": _as_tags(meta.get("tags")),
        "url": str(url) if url and str(url).startswith(("http://", "https://")) else None,
        "visibility": visibility,
        "metadata": extra,
    }


def _visibility(values: list[object], name: str) -> str:
    """Public only when every visibility the front matter states is `public`: anything else
    (`private`, a typo, an empty value) keeps the note private, fail closed."""
    spelled = [_plain_word(v) for v in values]
    unknown = sorted({v for v in spelled if v not in (PUBLIC, PRIVATE)})
    if unknown:
        log.warning(
            "%s: visibility %s is neither 'public' nor 'private'; treated as private until fixed",
            name,
            ", ".join(repr(v) for v in unknown),
        )
    return PUBLIC if all(v == PUBLIC for v in spelled) else PRIVATE


def _plain_word(value: object) -> str:
    if not isinstance(value, str):
        return repr(value)
    return value.split(" #", 1)[0].strip().strip("'\"").strip().lower()


def _scalar(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)

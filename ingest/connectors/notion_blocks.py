"""Notion JSON (rich text, blocks, properties) to Markdown: pure functions, no I/O."""

from __future__ import annotations

from typing import Any

from ingest.connectors._markdown import (
    emphasised,
    escape_heading_markers,
    fenced,
    indent,
    inline_code,
    join_blocks,
    quote,
    table,
)

NOTION_WEB_URL = "https://www.notion.so"
_LIST_KINDS = frozenset({"bulleted_list_item", "numbered_list_item", "to_do"})


def notion_url(notion_id: str) -> str:
    """The stable web address of a page or database, used as its doc_id."""
    return f"{NOTION_WEB_URL}/{notion_id.replace('-', '')}"


def plain_text(items: Any) -> str:
    return "".join(str(i.get("plain_text") or "") for i in items or [] if isinstance(i, dict))


def rich_text_to_markdown(items: Any) -> str:
    """Notion rich text to Markdown: bold, italic, strikethrough, code, links, equations."""
    out: list[str] = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        text = item.get("plain_text")
        if text is None:
            text = str((item.get("text") or {}).get("content") or "")
        if kind == "equation":
            expression = (item.get("equation") or {}).get("expression") or text
            out.append(f"${expression}$")
            continue
        ann = item.get("annotations") or {}
        if ann.get("code"):
            text = inline_code(text) if text.strip() else text
        else:
            if ann.get("bold") and ann.get("italic"):
                text = emphasised(text, "***")
            elif ann.get("bold"):
                text = emphasised(text, "**")
            elif ann.get("italic"):
                text = emphasised(text, "*")
            if ann.get("strikethrough"):
                text = emphasised(text, "~~")
        href = item.get("href") or ((item.get("text") or {}).get("link") or {}).get("url")
        if href and text.strip():
            if href.startswith("/"):
                href = f"{NOTION_WEB_URL}{href}"
            text = f"[{text}]({href})"
        out.append(text)
    return "".join(out)


def blocks_to_markdown(blocks: list[dict[str, Any]], heading_offset: int = 1) -> str:
    """A block tree (children under `_children`) to Markdown; heading_1 gets 1 + offset `#`s."""
    return join_blocks(_render_blocks(blocks, heading_offset))


def _render_blocks(blocks: list[dict[str, Any]], offset: int) -> list[str]:
    out: list[str] = []
    number = 0
    previous_item = ""  # the list kind the last rendered block continued, if any
    for block in blocks:
        kind = str(block.get("type") or "")
        number = number + 1 if kind == "numbered_list_item" else 0
        rendered = _render_block(block, kind, offset, number)
        if not rendered:
            continue
        if kind in _LIST_KINDS and kind == previous_item:
            out[-1] += "\n" + rendered  # keep a list tight
        else:
            out.append(rendered)
        previous_item = kind if kind in _LIST_KINDS else ""
    return out


def _render_block(block: dict[str, Any], kind: str, offset: int, number: int) -> str:
    data = block.get(kind) or {}
    if not isinstance(data, dict):
        data = {}
    children = block.get("_children") or []
    text = rich_text_to_markdown(data.get("rich_text"))

    def nested() -> str:
        return join_blocks(_render_blocks(children, offset))

    if kind == "paragraph":
        return join_blocks([escape_heading_markers(text), nested()])
    if kind in ("heading_1", "heading_2", "heading_3"):
        level = min(6, int(kind[-1]) + offset)
        heading = f"{'#' * level} {text.replace(chr(10), ' ').strip()}" if text.strip() else ""
        return join_blocks([heading, nested()])
    if kind in _LIST_KINDS:
        if kind == "numbered_list_item":
            marker = f"{number}. "
        elif kind == "to_do":
            marker = "- [x] " if data.get("checked") else "- [ ] "
        else:
            marker = "- "
        pad = " " * len(marker)
        item = marker + text.replace("\n", "\n" + pad)
        inner = "\n".join(_render_blocks(children, offset))
        return item + ("\n" + indent(inner, pad) if inner else "")
    if kind == "toggle":  # often a FAQ: the question, then the answer hidden inside
        return join_blocks([escape_heading_markers(text), nested()])
    if kind == "quote":
        inner = join_blocks([text, nested()])
        return quote(inner) if inner else ""
    if kind == "callout":
        icon = (data.get("icon") or {}).get("emoji") or ""
        inner = join_blocks([f"{icon} {text}".strip(), nested()])
        return quote(inner) if inner else ""
    if kind == "code":
        code = plain_text(data.get("rich_text"))
        language = str(data.get("language") or "").replace(" ", "")
        return fenced(code, "" if language == "plaintext" else language) if code.strip() else ""
    if kind == "divider":
        return "---"
    if kind == "equation":
        expression = str(data.get("expression") or "").strip()
        return f"$$\n{expression}\n$$" if expression else ""
    if kind == "table":
        return _table(data, children)
    if kind == "child_page":
        title = str(data.get("title") or "Untitled")
        return f"Page: [{title}]({notion_url(str(block.get('id', '')))})"
    if kind == "child_database":
        return f"Database: {data.get('title') or 'Untitled'}"
    if kind in ("bookmark", "embed", "link_preview"):
        url = str(data.get("url") or "")
        caption = rich_text_to_markdown(data.get("caption"))
        return f"[{caption or url}]({url})" if url else ""
    if kind in ("image", "video", "file", "pdf", "audio"):
        return escape_heading_markers(rich_text_to_markdown(data.get("caption")))
    if kind in ("column_list", "column", "synced_block", "template"):
        return nested()
    if kind in ("link_to_page", "table_of_contents", "breadcrumb", "unsupported"):
        return ""
    return join_blocks([escape_heading_markers(text), nested()])


def _table(data: dict[str, Any], children: list[dict[str, Any]]) -> str:
    rows = [
        [rich_text_to_markdown(cell) for cell in (row.get("table_row") or {}).get("cells", [])]
        for row in children
        if row.get("type") == "table_row"
    ]
    if not rows:
        return ""
    if not data.get("has_column_header"):
        rows.insert(0, [""] * max(len(r) for r in rows))
    return table(rows)


def page_title(page: dict[str, Any]) -> str:
    for prop in (page.get("properties") or {}).values():
        if isinstance(prop, dict) and prop.get("type") == "title":
            return plain_text(prop.get("title")).strip() or "Untitled"
    return "Untitled"


def property_text(prop: dict[str, Any]) -> str:
    """A database property's value as short text ('' when empty or not worth indexing)."""
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if value is None or value == [] or value == "":
        return "No" if kind == "checkbox" and value is False else ""
    match kind:
        case "title" | "rich_text":
            return plain_text(value).strip()
        case "number":
            return f"{value:g}" if isinstance(value, float) else str(value)
        case "select" | "status":
            return str(value.get("name") or "")
        case "multi_select":
            return ", ".join(str(v.get("name") or "") for v in value)
        case "date":
            start, end = value.get("start") or "", value.get("end")
            return f"{start} to {end}" if end else str(start)
        case "people":
            return ", ".join(str(p.get("name") or "") for p in value if p.get("name"))
        case "checkbox":
            return "Yes" if value else "No"
        case "url" | "email" | "phone_number":
            return str(value)
        case "files":
            return ", ".join(str(f.get("name") or "") for f in value)
        case "formula" | "rollup":
            inner_kind = value.get("type")
            if inner_kind == "array":
                parts = (property_text(item) for item in value.get("array") or [])
                return ", ".join(p for p in parts if p)
            return property_text({"type": inner_kind, inner_kind: value.get(inner_kind)})
        case "string" | "boolean":
            return ("Yes" if value else "No") if kind == "boolean" else str(value)
        case "unique_id":
            prefix, number = value.get("prefix"), value.get("number")
            return f"{prefix}-{number}" if prefix else str(number or "")
    return ""  # relations, people stamps, created/edited times: ids and noise


def properties_header(page: dict[str, Any], database: str) -> str:
    """`Key: value` lines for a database row (the title property is the document's heading)."""
    props = page.get("properties") or {}
    lines = [] if "Database" in props else [f"Database: {database}"]
    for name, prop in props.items():
        if isinstance(prop, dict) and prop.get("type") != "title":
            value = property_text(prop)
            if value:
                lines.append(f"{name}: {value}")
    return "\n".join(lines)

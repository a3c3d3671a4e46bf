"""Main-text extraction: an HTML page to Markdown, keeping headings, lists, code and tables.

Site chrome (nav, site header/footer, asides, scripts, forms, hidden elements) is dropped; the
main container is `<main>`, `[role=main]`, a lone `<article>`, or else `<body>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

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

_DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "nav", "aside", "form", "iframe", "svg",
        "canvas", "button", "input", "select", "textarea", "object", "embed", "dialog",
        "head", "title", "meta", "link", "img", "picture", "video", "audio", "map",
    }
)  # fmt: skip
_CHROME_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}
)
_CHROME_TOKENS = frozenset(
    {
        "nav", "navbar", "navigation", "sidebar", "breadcrumb", "breadcrumbs", "skip-link",
        "cookie-banner", "cookie-consent", "cookie-notice",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "center", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "header", "hr", "html", "li", "main",
        "ol", "p", "pre", "section", "summary", "table", "ul", *_HEADINGS,
    }
)  # fmt: skip
_BREAK = "\x00"  # stands for <br> until whitespace has been collapsed
_SPACES = re.compile(r"\s+")
_LANGUAGE = re.compile(r"^(?:language|lang)-(\S+)$")


@dataclass(frozen=True)
class HtmlPage:
    title: str
    markdown: str


def html_to_markdown(
    html: str | bytes, base_url: str = "", encoding: str | None = None
) -> HtmlPage:
    """Extract the main text of an HTML page as Markdown; relative links resolve on `base_url`."""
    soup = BeautifulSoup(
        html, "html.parser", from_encoding=encoding if isinstance(html, bytes) else None
    )
    title = _page_title(soup)
    root = _main_container(soup)
    _drop_chrome(root)
    markdown = join_blocks(_Writer(base_url).blocks(root))
    return HtmlPage(title=title, markdown=markdown)


def _page_title(soup: BeautifulSoup) -> str:
    og = soup.find("meta", attrs={"property": "og:title"})
    if isinstance(og, Tag) and str(og.get("content") or "").strip():
        return _SPACES.sub(" ", str(og["content"])).strip()
    if soup.title and soup.title.get_text(strip=True):
        return _SPACES.sub(" ", soup.title.get_text()).strip()
    h1 = soup.find("h1")
    return _SPACES.sub(" ", h1.get_text()).strip() if h1 else ""


def _main_container(soup: BeautifulSoup) -> Tag:
    for candidate in (soup.find("main"), soup.find(attrs={"role": "main"})):
        if isinstance(candidate, Tag) and candidate.get_text(strip=True):
            return candidate
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


def _drop_chrome(root: Tag) -> None:
    for el in root.find_all(True):
        if not el.decomposed and _is_chrome(el):
            el.decompose()


def _is_chrome(el: Tag) -> bool:
    if el.name in _DROP_TAGS:
        return True
    # A header/footer inside an article or main belongs to it; one in the body is site chrome.
    if el.name in ("header", "footer") and el.find_parent(["article", "main"]) is None:
        return True
    if str(el.get("role") or "").lower() in _CHROME_ROLES:
        return True
    if el.has_attr("hidden") or str(el.get("aria-hidden") or "").lower() == "true":
        return True
    if "display:none" in str(el.get("style") or "").replace(" ", "").lower():
        return True
    classes = el.get("class") or []
    tokens = {c.lower() for c in classes} | {str(el.get("id") or "").lower()}
    return not tokens.isdisjoint(_CHROME_TOKENS)


def _is_text(node: object) -> bool:
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def _clean_inline(text: str) -> str:
    """Collapse whitespace as a browser would, turning <br> markers into newlines."""
    text = _SPACES.sub(" ", text)
    lines = (line.strip() for line in text.split(_BREAK))
    return "\n".join(line for line in lines if line)


class _Writer:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def blocks(self, el: Tag) -> list[str]:
        """Render a container's children: runs of inline content become paragraphs."""
        out: list[str] = []
        run: list[str] = []
        for child in el.children:
            if isinstance(child, Tag):
                if child.name in _BLOCK_TAGS or child.find(list(_BLOCK_TAGS)) is not None:
                    self._flush(run, out)
                    out.extend(self.block(child))
                else:
                    run.append(self.inline(child))
            elif _is_text(child):
                run.append(str(child))
        self._flush(run, out)
        return out

    def _flush(self, run: list[str], out: list[str]) -> None:
        text = _clean_inline("".join(run))
        run.clear()
        if text:
            out.append(escape_heading_markers(text))

    def block(self, el: Tag) -> list[str]:
        name = el.name
        if name in _HEADINGS:
            text = _clean_inline(self.inline_children(el)).replace("\n", " ")
            return [f"{'#' * _HEADINGS[name]} {text}"] if text else []
        if name in ("ul", "ol"):
            rendered = self.list(el)
            return [rendered] if rendered else []
        if name == "pre":
            code = el.get_text()
            return [fenced(code.strip("\n"), _language(el))] if code.strip() else []
        if name == "blockquote":
            inner = join_blocks(self.blocks(el))
            return [quote(inner)] if inner else []
        if name == "table":
            return self.table(el)
        if name == "hr":
            return ["---"]
        return self.blocks(el)

    def list(self, el: Tag) -> str:
        ordered = el.name == "ol"
        start = str(el.get("start") or "1")
        number = int(start) if start.isdigit() else 1
        items: list[str] = []
        for li in el.find_all("li", recursive=False):
            marker = f"{number}." if ordered else "-"
            number += 1
            body = "\n".join(self.blocks(li))
            if not body:
                continue
            first, _, rest = body.partition("\n")
            item = f"{marker} {first}"
            if rest:
                item += "\n" + indent(rest, " " * (len(marker) + 1))
            items.append(item)
        return "\n".join(items)

    def table(self, el: Tag) -> list[str]:
        rows: list[list[str]] = []
        for tr in el.find_all("tr"):
            if tr.find_parent("table") is not el:
                continue  # a nested table's row; it shows up inside its cell
            cells = [
                _clean_inline(self.inline_children(cell)).replace("\n", " ")
                for cell in tr.find_all(["td", "th"], recursive=False)
            ]
            if any(cells):
                rows.append(cells)
        if not rows:
            return []
        if max(len(r) for r in rows) == 1:  # a layout table: just its text
            return [escape_heading_markers(r[0]) for r in rows if r[0]]
        return [table(rows)]

    def inline_children(self, el: Tag) -> str:
        parts: list[str] = []
        for child in el.children:
            if isinstance(child, Tag):
                parts.append(self.inline(child))
            elif _is_text(child):
                parts.append(str(child))
        return "".join(parts)

    def inline(self, el: Tag) -> str:
        name = el.name
        if name == "br":
            return _BREAK
        if name in _DROP_TAGS:
            return ""
        if name in ("code", "kbd", "samp", "tt"):
            text = _SPACES.sub(" ", el.get_text())
            return inline_code(text.strip()) if text.strip() else text
        inner = self.inline_children(el)
        if name in ("strong", "b"):
            return emphasised(inner, "**")
        if name in ("em", "i"):
            return emphasised(inner, "*")
        if name in ("s", "del", "strike"):
            return emphasised(inner, "~~")
        if name == "a":
            return self.link(el, inner)
        if name in _BLOCK_TAGS:  # a block inside inline content: keep it apart
            return f" {_BREAK}{inner}{_BREAK} "
        return inner

    def link(self, el: Tag, text: str) -> str:
        href = str(el.get("href") or "").strip()
        if not href or href.startswith("#") or not text.strip():
            return text
        url = urljoin(self.base_url, href) if self.base_url else href
        if urlsplit(url).scheme not in ("http", "https", "mailto"):
            return text
        label = _SPACES.sub(" ", text).strip()
        if label == url:
            return text
        target = f"<{url}>" if re.search(r"[\s()<>]", url) else url
        lead = " " if text[:1].isspace() else ""
        trail = " " if text[-1:].isspace() else ""
        return f"{lead}[{label}]({target}){trail}"


def _language(pre: Tag) -> str:
    code = pre.find("code")
    for el in (pre, code):
        if isinstance(el, Tag):
            for cls in el.get("class") or []:
                match = _LANGUAGE.match(cls)
                if match:
                    return match.group(1)
    return ""

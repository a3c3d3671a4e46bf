"""HTML pages to Markdown-ish text: headings kept, navigation and scripts dropped."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag

_DROP = (
    "head",  # in a fragment without <body>, the <title> would otherwise read as body text
    "title",
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
)
_BLOCKS = {"p", "div", "section", "article", "main", "table", "tr", "blockquote", "dd", "dt"}


def html_to_markdown(html: str) -> tuple[str, str]:
    """(title, text) of an HTML document."""
    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup(_DROP):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    lines: list[str] = []
    _walk(root, lines)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else ""
    return title, text


def _walk(node: Tag, lines: list[str]) -> None:
    inline: list[str] = []

    def flush() -> None:
        text = re.sub(r"\s+", " ", "".join(inline)).strip()
        if text:
            lines.extend([text, ""])
        inline.clear()

    for child in node.children:
        if isinstance(child, NavigableString):
            if child.__class__.__name__ in ("Comment", "Doctype", "Declaration"):
                continue
            inline.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if re.fullmatch(r"h[1-6]", name):
            flush()
            lines.extend(["#" * int(name[1]) + " " + child.get_text(" ", strip=True), ""])
        elif name == "pre":
            flush()
            lines.extend(["```", child.get_text().rstrip("\n"), "```", ""])
        elif name in ("ul", "ol"):
            flush()
            for n, item in enumerate(child.find_all("li", recursive=False), start=1):
                bullet = f"{n}." if name == "ol" else "-"
                lines.append(f"{bullet} {item.get_text(' ', strip=True)}")
            lines.append("")
        elif name == "br":
            inline.append("\n")
        elif name == "a" and child.get("href", "").startswith(("http://", "https://")):
            inline.append(f"[{child.get_text(' ', strip=True)}]({child['href']})")
        elif name in _BLOCKS or name in ("li", "td", "th"):
            flush()
            _walk(child, lines)
        else:
            inline.append(child.get_text(" "))
    flush()

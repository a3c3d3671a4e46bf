"""Main-text extraction from HTML, without a server."""

from __future__ import annotations

from ingest.connectors.html_markdown import html_to_markdown


def test_article_header_is_kept_but_site_chrome_is_not() -> None:
    page = html_to_markdown(
        """<html><head><meta property="og:title" content="Stream FAQ">
        <title>FAQ | Site</title></head>
        <body><header>Site header</header><div class="sidebar">Links</div>
        <div role="navigation">Menu</div><div class="cookie-banner">Cookies?</div>
        <article><header><h1>Stream FAQ</h1></header><p>Hello</p>
        <footer>Posted in FAQ</footer></article>
        <footer>Site footer</footer></body></html>"""
    )
    assert page.title == "Stream FAQ"
    assert page.markdown == "# Stream FAQ\n\nHello\n\nPosted in FAQ"


def test_structure_is_markdown() -> None:
    page = html_to_markdown(
        """<body><h2>Setup</h2>
        <ul><li>Camera <code>a6400</code><ul><li>16mm lens</li></ul></li><li>Mic</li></ul>
        <p>Line one<br>line two, <em>really</em> <a href="mailto:me@example.com">mail me</a></p>
        <blockquote><p>Quote</p></blockquote>
        <table><tr><th>Day</th><th>Time</th></tr><tr><td>Tue</td><td>8pm</td></tr></table>
        <pre>```
fenced inside
```</pre><hr><h6>Tiny</h6><p>#hashtag start</p>
        <div hidden>Hidden</div><span aria-hidden="true">Icon</span>
        <a href="/card"><h3>Card title</h3></a></body>""",
        base_url="https://example.com/faq",
    )
    assert page.markdown == (
        "## Setup\n\n"
        "- Camera `a6400`\n  - 16mm lens\n- Mic\n\n"
        "Line one\nline two, *really* [mail me](mailto:me@example.com)\n\n"
        "> Quote\n\n"
        "| Day | Time |\n| --- | --- |\n| Tue | 8pm |\n\n"
        "````\n```\nfenced inside\n```\n````\n\n"
        "---\n\n###### Tiny\n\n\\#hashtag start\n\n### Card title"
    )


def test_charset_from_bytes_and_title_fallback() -> None:
    page = html_to_markdown(
        "<html><body><h1>Café</h1><p>Crème</p></body></html>".encode("latin-1"),
        encoding="latin-1",
    )
    assert page.title == "Café" and page.markdown == "# Café\n\nCrème"

"""Web pages and sitemaps against a local site on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip

from aiohttp import web

from ingest.connectors.base import Fetched, SourceFailed, SourceRun, Unchanged
from ingest.connectors.web import SitemapSource, WebPageSource
from ingest.documents import LoadFailure

from ._helpers import Sleeps, collect

PAGE = """<!doctype html>
<html><head><title>About the stream | Site</title></head>
<body>
  <header class="site"><a href="/">Logo</a><nav><a href="/a">A</a><a href="/b">B</a></nav></header>
  <aside>Follow me everywhere!</aside>
  <main>
    <h1>About the stream</h1>
    <p>I stream <strong>speedruns</strong> on weekdays.
       See the <a href="/schedule">schedule</a>.</p>
    <h2>Rules</h2>
    <ol><li>Be kind</li><li>No spoilers</li></ol>
    <pre><code class="language-text">!discord
!merch</code></pre>
    <script>trackVisitor()</script>
    <style>.x { color: red }</style>
  </main>
  <footer>© 2024 Streamer. Privacy policy.</footer>
</body></html>"""


class Site:
    """A tiny site: pages, robots.txt, sitemaps, validators; counts requests per path."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, str | bytes]] = {}  # path -> (content type, body)
        self.robots = "User-agent: *\nAllow: /\n"
        self.robots_status = 200
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.hits: dict[str, int] = {}
        self.conditional: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/{tail:.*}", self._page)
        return app

    async def _robots(self, request: web.Request) -> web.Response:
        if self.robots_status != 200:
            return web.Response(status=self.robots_status)
        return web.Response(text=self.robots, content_type="text/plain")

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late", content_type="text/html")

    async def _page(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        if request.path not in self.pages:
            return web.Response(status=404, text="not found")
        headers: dict[str, str] = {}
        if self.etag:
            headers["ETag"] = self.etag
            if request.headers.get("If-None-Match") == self.etag:
                self.conditional.append(dict(request.headers))
                return web.Response(status=304, headers=headers)
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
            if request.headers.get("If-Modified-Since") == self.last_modified:
                self.conditional.append(dict(request.headers))
                return web.Response(status=304, headers=headers)
        content_type, body = self.pages[request.path]
        data = body.encode() if isinstance(body, str) else body
        return web.Response(body=data, headers={"Content-Type": content_type, **headers})


def sitemap_index(base: str, *paths: str) -> str:
    entries = "".join(f"<sitemap><loc>{base}{p}</loc></sitemap>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
    )


def urlset(base: str, *paths: str) -> str:
    entries = "".join(
        f"<url><loc>{base}{p}</loc><lastmod>2024-05-01</lastmod></url>" for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    )


def html(title: str, body: str) -> tuple[str, str]:
    return (
        "text/html; charset=utf-8",
        f"<html><head><title>{title}</title></head><body>{body}</body></html>",
    )


async def test_main_text_extraction(serve, client) -> None:
    site = Site()
    site.pages["/about"] = ("text/html; charset=utf-8", PAGE)
    base = await serve(site.app())
    [result] = await collect(WebPageSource(f"{base}/about#team"), client)

    assert isinstance(result, Fetched)
    doc = result.document
    assert doc.doc_id == doc.url == f"{base}/about"
    assert doc.title == "About the stream | Site"
    assert doc.text == (
        "# About the stream\n\n"
        f"I stream **speedruns** on weekdays. See the [schedule]({base}/schedule).\n\n"
        "## Rules\n\n1. Be kind\n2. No spoilers\n\n```text\n!discord\n!merch\n```"
    )
    for chrome in ("Logo", "Follow me", "Privacy", "trackVisitor", "color: red"):
        assert chrome not in doc.text


async def test_markdown_and_plain_text_pages(serve, client) -> None:
    site = Site()
    site.pages["/notes.md"] = ("text/markdown", "# Notes\n\n## Setup\n\nOBS")
    site.pages["/mods.md"] = (
        "text/markdown",
        "---\ntitle: Mod handbook\ntags: [mods]\nvisibility: private\n---\n## Bans\n\nAsk first.",
    )
    site.pages["/faq.txt"] = ("text/plain", "Q: when?\nA: 8pm")
    base = await serve(site.app())
    [md] = await collect(WebPageSource(f"{base}/notes.md"), client)
    [txt] = await collect(WebPageSource(f"{base}/faq.txt"), client)
    assert isinstance(md, Fetched) and md.document.title == "Notes"
    assert md.document.text == "# Notes\n\n## Setup\n\nOBS"
    assert isinstance(txt, Fetched) and txt.document.title == "faq.txt"
    [mods] = await collect(WebPageSource(f"{base}/mods.md"), client)
    assert isinstance(mods, Fetched)
    assert (mods.document.title, mods.document.text) == ("Mod handbook", "## Bans\n\nAsk first.")
    assert mods.document.visibility == "private" and mods.document.tags == ("mods",)


async def test_etag_round_trip_gives_unchanged(serve, client) -> None:
    site = Site()
    site.pages["/about"] = ("text/html", PAGE)
    site.etag = '"v1"'
    base = await serve(site.app())
    source = WebPageSource(f"{base}/about")
    state: dict = {}

    [first] = await collect(source, client, state)
    assert isinstance(first, Fetched)
    assert state == {f"{base}/about": {"etag": '"v1"'}}
    [second] = await collect(source, client, state)
    assert second == Unchanged(f"{base}/about")
    assert site.conditional[0]["If-None-Match"] == '"v1"'

    site.etag = '"v2"'
    [third] = await collect(source, client, state)
    assert isinstance(third, Fetched) and state[f"{base}/about"]["etag"] == '"v2"'


async def test_last_modified_round_trip_gives_unchanged(serve, client) -> None:
    site = Site()
    site.pages["/about"] = ("text/html", PAGE)
    site.last_modified = "Wed, 01 May 2024 12:00:00 GMT"
    base = await serve(site.app())
    state: dict = {}
    await collect(WebPageSource(f"{base}/about"), client, state)
    assert state[f"{base}/about"] == {"last_modified": "Wed, 01 May 2024 12:00:00 GMT"}
    assert await collect(WebPageSource(f"{base}/about"), client, state) == [
        Unchanged(f"{base}/about")
    ]
    assert site.conditional[0]["If-Modified-Since"] == "Wed, 01 May 2024 12:00:00 GMT"


async def test_page_failures_fail_a_single_page_source(serve, client) -> None:
    site = Site()
    site.pages["/file.pdf"] = ("application/pdf", "%PDF-1.7")
    site.pages["/big"] = html("Big", "<p>" + "word " * 5_000 + "</p>")
    site.pages["/empty"] = html("Empty", "<script>render()</script>")
    base = await serve(site.app())

    async def reason(url: str, **kwargs) -> str:
        [result] = await collect(WebPageSource(url, **kwargs), client)
        assert isinstance(result, SourceFailed)
        return result.reason

    assert "not found (HTTP 404)" in await reason(f"{base}/missing")
    assert "application/pdf" in await reason(f"{base}/file.pdf")
    assert "limit" in await reason(f"{base}/big", max_bytes=2_000)
    assert "JavaScript" in await reason(f"{base}/empty")
    assert "within 0.2 seconds" in await reason(f"{base}/slow", timeout=0.2)


async def test_robots_txt_is_honoured(serve, client) -> None:
    site = Site()
    site.robots = "User-agent: GreenroomBot\nDisallow: /private\n\nUser-agent: *\nAllow: /\n"
    site.pages["/private/notes"] = html("Private", "<p>secret plans</p>")
    base = await serve(site.app())
    [result] = await collect(WebPageSource(f"{base}/private/notes"), client)
    assert isinstance(result, SourceFailed)
    assert "robots.txt" in result.reason and "GreenroomBot" in result.reason
    assert site.hits.get("/private/notes") is None


async def test_robots_txt_server_error_keeps_us_away(serve, client) -> None:
    site = Site()
    site.robots_status = 503
    site.pages["/about"] = ("text/html", PAGE)
    base = await serve(site.app())
    [result] = await collect(WebPageSource(f"{base}/about"), client)
    assert isinstance(result, SourceFailed) and "503" in result.reason


async def test_sitemap_index_with_two_sitemaps_and_robots(serve, client) -> None:
    site = Site()
    site.robots = "User-agent: *\nDisallow: /private\nCrawl-delay: 2\n"
    base = await serve(site.app())
    site.pages["/sitemap.xml"] = ("application/xml", sitemap_index(base, "/sm-a.xml", "/sm-b.xml"))
    site.pages["/sm-a.xml"] = ("application/xml", urlset(base, "/one", "/two"))
    site.pages["/sm-b.xml"] = (
        "application/xml",
        urlset(base, "/three", "/private/x", "/gone", "/one"),
    )
    for path in ("/one", "/two", "/three", "/private/x"):
        site.pages[path] = html(path.strip("/").title(), f"<main><h1>{path}</h1><p>text</p></main>")
    sleeps = Sleeps()
    source = SitemapSource(f"{base}/sitemap.xml", sleep=sleeps)
    state: dict = {"https://old.example/stale": {"etag": "x"}}
    run = SourceRun()
    results = [r async for batch in run.batches(source.fetch(client, state), size=2) for r in batch]

    fetched = [r.doc_id for r in results if isinstance(r, Fetched)]
    assert fetched == [f"{base}/one", f"{base}/two", f"{base}/three"]
    failures = {r.doc_id: r.reason for r in results if isinstance(r, LoadFailure)}
    assert "robots.txt" in failures[f"{base}/private/x"]
    assert "HTTP 404" in failures[f"{base}/gone"]
    assert site.hits.get("/private/x") is None
    assert sleeps.delays == [2.0] * 4  # Crawl-delay between the five page reads
    assert run.complete
    assert run.deleted_ids([f"{base}/one", f"{base}/removed"]) == {f"{base}/removed"}
    assert "https://old.example/stale" not in state  # markers of unlisted pages are dropped


async def test_a_failed_child_sitemap_blocks_deletion(serve, client) -> None:
    site = Site()
    base = await serve(site.app())
    site.pages["/sitemap.xml"] = ("application/xml", sitemap_index(base, "/sm-a.xml", "/sm-b.xml"))
    site.pages["/sm-a.xml"] = ("application/xml", urlset(base, "/one"))
    site.pages["/one"] = html("One", "<p>one</p>")
    run = SourceRun()
    results = [
        r
        async for batch in run.batches(SitemapSource(f"{base}/sitemap.xml").fetch(client, {}))
        for r in batch
    ]
    assert isinstance(results[0], Fetched)
    assert isinstance(results[-1], SourceFailed) and "sm-b.xml" in results[-1].reason
    assert not run.complete and run.deleted_ids([f"{base}/two"]) == frozenset()


async def test_sitemap_root_missing_fails_the_source(serve, client) -> None:
    base = await serve(Site().app())
    [result] = await collect(SitemapSource(f"{base}/sitemap.xml"), client)
    assert isinstance(result, SourceFailed) and "404" in result.reason


async def test_sitemap_limits_gzip_and_other_hosts(serve, client) -> None:
    site = Site()
    base = await serve(site.app())
    xml = urlset(base, "/a", "/b", "/c").replace(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://elsewhere.example/x</loc></url>",
    )
    site.pages["/sitemap.xml.gz"] = ("application/x-gzip", gzip.compress(xml.encode()))
    for path in ("/a", "/b", "/c"):
        site.pages[path] = html(path, f"<p>{path}</p>")
    results = await collect(SitemapSource(f"{base}/sitemap.xml.gz", max_urls=2), client)
    assert [r.doc_id for r in results] == [f"{base}/a", f"{base}/b"]
    assert "/c" not in site.hits


async def test_entities_in_sitemaps_are_refused(serve, client) -> None:
    site = Site()
    base = await serve(site.app())
    site.pages["/sitemap.xml"] = (
        "application/xml",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>',
    )
    [result] = await collect(SitemapSource(f"{base}/sitemap.xml"), client)
    assert isinstance(result, SourceFailed) and "entities" in result.reason

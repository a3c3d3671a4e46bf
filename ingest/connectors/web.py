"""Web pages and sitemaps: polite (robots.txt, crawl delay), conditional (ETag / Last-Modified).

State for these sources maps a page URL (its doc_id) to `{"etag": ..., "last_modified": ...}`;
a page answered with 304 Not Modified is reported `Unchanged` without reading a body.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urldefrag, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from ingest.connectors.base import (
    ROBOTS_AGENT,
    USER_AGENT,
    DocumentDefaults,
    Fetched,
    FetchResult,
    ResponseTooLarge,
    SourceFailed,
    Unchanged,
    describe_http_error,
    read_limited,
)
from ingest.connectors.html_markdown import html_to_markdown
from ingest.documents import PRIVATE, Document, LoadFailure
from ingest.loaders.markdown import load_markdown
from ingest.loaders.text import UnreadableFile

log = logging.getLogger(__name__)

ALLOWED_CONTENT_TYPES = ("text/html", "text/plain", "text/markdown")
DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_MAX_URLS = 500
_MAX_ROBOTS_BYTES = 512_000  # RFC 9309 asks crawlers to parse at least 500 KiB
_MAX_SITEMAP_BYTES = 50_000_000  # the sitemaps protocol's own limit, uncompressed
_MAX_SITEMAP_DEPTH = 3

Sleep = Callable[[float], Awaitable[None]]


def normalise_url(url: str) -> str:
    """A page's doc_id: the URL without its fragment, with a scheme and host checked."""
    url, _ = urldefrag(url.strip())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) address.")
    if parts.username or parts.password:
        raise ValueError("Addresses with a user name or password in them are not accepted.")
    return url


class RobotsRules:
    """robots.txt per origin, read once per run and matched for the GreenroomBot agent."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._rules: dict[str, RobotFileParser | str] = {}  # origin -> rules, or a refusal

    async def refusal(self, url: str) -> str | None:
        """None when the URL may be fetched, else a readable reason."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = await self._load(origin)
        rules = self._rules[origin]
        if isinstance(rules, str):
            return rules
        if rules.can_fetch(ROBOTS_AGENT, url):
            return None
        path = parts.path or "/"
        return f"robots.txt on {parts.netloc} does not allow {ROBOTS_AGENT} to read {path}."

    def crawl_delay(self, url: str) -> float:
        parts = urlsplit(url)
        rules = self._rules.get(f"{parts.scheme}://{parts.netloc}")
        if isinstance(rules, RobotFileParser):
            delay = rules.crawl_delay(ROBOTS_AGENT)
            return float(delay) if delay else 0.0
        return 0.0

    async def _load(self, origin: str) -> RobotFileParser | str:
        host = urlsplit(origin).netloc
        rules = RobotFileParser()
        try:
            async with self._client.stream(
                "GET",
                f"{origin}/robots.txt",
                headers={"User-Agent": USER_AGENT},
                timeout=self._timeout,
                follow_redirects=True,
            ) as resp:
                if 400 <= resp.status_code < 500:
                    rules.parse([])  # no robots.txt: everything is allowed (RFC 9309)
                    return rules
                if resp.status_code != 200:
                    return (
                        f"robots.txt on {host} answered HTTP {resp.status_code}, so "
                        f"{ROBOTS_AGENT} stays away until it can be read."
                    )
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) >= _MAX_ROBOTS_BYTES:
                        break
        except httpx.HTTPError as exc:
            return f"robots.txt on {host} could not be read: {describe_http_error(exc)}"
        text = bytes(body[:_MAX_ROBOTS_BYTES]).decode("utf-8", errors="replace")
        rules.parse(text.splitlines())
        return rules


class _PageReader:
    """Fetches one page at a time for a run, sharing the robots.txt cache."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout: float,
        max_bytes: int,
        defaults: DocumentDefaults,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.defaults = defaults
        self.robots = RobotsRules(client, timeout=timeout)

    async def read(self, url: str, state: dict[str, Any]) -> Fetched | Unchanged | LoadFailure:
        doc_id = url
        refusal = await self.robots.refusal(url)
        if refusal:
            return LoadFailure(doc_id, refusal)
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "text/html, text/markdown;q=0.9, text/plain;q=0.8",
        }
        known = state.get(doc_id)
        validators = known if isinstance(known, dict) else {}
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.client.stream(
                    "GET", url, headers=headers, timeout=self.timeout, follow_redirects=True
                ) as resp,
            ):
                if resp.status_code == 304 and validators:
                    return Unchanged(doc_id)
                if resp.status_code != 200:
                    return LoadFailure(doc_id, _status_reason(resp.status_code))
                mime = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                if mime not in ALLOWED_CONTENT_TYPES:
                    kind = mime or "of no stated type"
                    return LoadFailure(
                        doc_id, f"The page is {kind}, not HTML, Markdown or plain text."
                    )
                body = await read_limited(resp, self.max_bytes)
                charset = resp.charset_encoding
                final_url = str(resp.url)
                etag = resp.headers.get("etag")
                last_modified = resp.headers.get("last-modified")
        except (TimeoutError, httpx.TimeoutException):
            return LoadFailure(doc_id, f"The page did not answer within {self.timeout:g} seconds.")
        except ResponseTooLarge as exc:
            return LoadFailure(
                doc_id, f"The page is larger than the {self.max_bytes:,}-byte limit ({exc})."
            )
        except httpx.HTTPError as exc:
            return LoadFailure(doc_id, describe_http_error(exc))

        # Parsing a large page is CPU work: keep it off the event loop (the bot's heartbeat).
        document = await asyncio.to_thread(self._document, doc_id, mime, body, charset, final_url)
        if isinstance(document, str):
            return LoadFailure(doc_id, document)
        markers = {"etag": etag, "last_modified": last_modified}
        markers = {k: v for k, v in markers.items() if v}
        if markers:
            state[doc_id] = markers
        else:
            state.pop(doc_id, None)
        return Fetched(document)

    def _document(
        self, doc_id: str, mime: str, body: bytes, charset: str | None, final_url: str
    ) -> Document | str:
        """The page as a Document, or why it has nothing to index."""
        d = self.defaults
        tags, visibility = d.tags, d.visibility
        if mime == "text/html":
            page = html_to_markdown(body, final_url, encoding=charset)
            title, text = page.title, page.markdown
        elif mime == "text/markdown":
            # The folder loader's reading: front matter becomes title/tags/visibility, not text.
            try:
                fields = load_markdown(_decode(body, charset), name=_title_from_url(doc_id))
            except UnreadableFile as exc:
                return f"The Markdown page {exc}."
            title, text = fields["title"], fields["text"].strip()
            tags = tuple(sorted({*tags, *fields["tags"]}))
            if fields["visibility"] == PRIVATE:  # the stricter of the spec and the page wins
                visibility = PRIVATE
        else:
            title, text = "", _decode(body, charset).strip()
        if not text.strip():
            return "The page has no readable text (it may need JavaScript to show it)."
        return Document(
            doc_id=doc_id,
            title=title or _title_from_url(doc_id),
            text=text,
            source=d.source,
            url=doc_id,
            tags=tags,
            visibility=visibility,
        )


class WebPageSource:
    """One web page; it is the whole source, so a failure to read it fails the source."""

    kind = "web_page"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        defaults: DocumentDefaults | None = None,
    ) -> None:
        self.url = normalise_url(url)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.defaults = defaults or DocumentDefaults(source=f"web_page:{self.url}")

    def __repr__(self) -> str:
        return f"WebPageSource({self.url!r})"

    async def fetch(
        self, client: httpx.AsyncClient, state: dict[str, Any]
    ) -> AsyncIterator[FetchResult]:
        reader = _PageReader(
            client, timeout=self.timeout, max_bytes=self.max_bytes, defaults=self.defaults
        )
        result = await reader.read(self.url, state)
        if isinstance(result, LoadFailure):
            yield SourceFailed(result.reason)
            return
        yield result


class SitemapSource:
    """Every page a sitemap (or a sitemap index, nested) lists, up to `max_urls`."""

    kind = "sitemap"

    def __init__(
        self,
        url: str,
        *,
        max_urls: int = DEFAULT_MAX_URLS,
        max_sitemaps: int = 50,
        allow_other_hosts: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_crawl_delay: float = 10.0,
        defaults: DocumentDefaults | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.url = normalise_url(url)
        self.max_urls = max_urls
        self.max_sitemaps = max_sitemaps
        self.allow_other_hosts = allow_other_hosts
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_crawl_delay = max_crawl_delay
        self.defaults = defaults or DocumentDefaults(source=f"sitemap:{self.url}")
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"SitemapSource({self.url!r}, max_urls={self.max_urls})"

    async def fetch(
        self, client: httpx.AsyncClient, state: dict[str, Any]
    ) -> AsyncIterator[FetchResult]:
        reader = _PageReader(
            client, timeout=self.timeout, max_bytes=self.max_bytes, defaults=self.defaults
        )
        urls, problems = await self._list_urls(client, reader.robots)
        if urls is None:
            yield SourceFailed(problems[0])
            return
        for i, url in enumerate(urls):
            if i:
                delay = min(reader.robots.crawl_delay(url), self.max_crawl_delay)
                if delay > 0:
                    await self._sleep(delay)
            yield await reader.read(url, state)
        if not problems:
            for stale in set(state) - set(urls):  # pages the sitemap no longer lists
                del state[stale]
        else:
            yield SourceFailed(
                f"{len(problems)} sitemap(s) could not be read, so no page is treated as "
                f"deleted this run. First problem: {problems[0]}"
            )

    async def _list_urls(
        self, client: httpx.AsyncClient, robots: RobotsRules
    ) -> tuple[list[str] | None, list[str]]:
        """Page URLs in sitemap order, and the problems met; None when the root sitemap failed."""
        home = _host_key(self.url)
        pending = [(self.url, 0)]
        seen_sitemaps: set[str] = set()
        urls: dict[str, None] = {}  # ordered set
        problems: list[str] = []
        truncated = False
        while pending and not truncated:
            sitemap_url, depth = pending.pop(0)
            if sitemap_url in seen_sitemaps:
                continue
            if len(seen_sitemaps) >= self.max_sitemaps:
                log.warning("%r: stopped after %d sitemaps", self, self.max_sitemaps)
                break
            seen_sitemaps.add(sitemap_url)
            try:
                kind, locs = await self._read_sitemap(client, robots, sitemap_url)
            except _SitemapProblem as exc:
                if sitemap_url == self.url:
                    return None, [exc.reason]
                problems.append(exc.reason)
                continue
            for loc in locs:
                try:
                    loc = normalise_url(loc)
                except ValueError:
                    continue
                if not self.allow_other_hosts and _host_key(loc) != home:
                    continue
                if kind == "index":
                    if depth < _MAX_SITEMAP_DEPTH:
                        pending.append((loc, depth + 1))
                elif loc not in urls:
                    if len(urls) >= self.max_urls:
                        truncated = True
                        break
                    urls[loc] = None
        if truncated:
            log.warning("%r: lists more pages; read the first %d only", self, self.max_urls)
        return list(urls), problems

    async def _read_sitemap(
        self, client: httpx.AsyncClient, robots: RobotsRules, url: str
    ) -> tuple[str, list[str]]:
        refusal = await robots.refusal(url)
        if refusal:
            raise _SitemapProblem(f"Sitemap {url}: {refusal}")
        try:
            async with (
                asyncio.timeout(self.timeout),
                client.stream(
                    "GET",
                    url,
                    headers={"User-Agent": USER_AGENT},
                    timeout=self.timeout,
                    follow_redirects=True,
                ) as resp,
            ):
                if resp.status_code != 200:
                    raise _SitemapProblem(f"Sitemap {url}: {_status_reason(resp.status_code)}")
                mime = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                body = await read_limited(resp, _MAX_SITEMAP_BYTES)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _SitemapProblem(
                f"Sitemap {url} did not answer within {self.timeout:g} seconds."
            ) from exc
        except ResponseTooLarge as exc:
            raise _SitemapProblem(f"Sitemap {url} is too large ({exc}).") from exc
        except httpx.HTTPError as exc:
            raise _SitemapProblem(f"Sitemap {url}: {describe_http_error(exc)}") from exc
        return _parse_sitemap(url, _gunzip(url, body), mime)


class _SitemapProblem(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _gunzip(url: str, body: bytes) -> bytes:
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, _MAX_SITEMAP_BYTES + 1)
    except zlib.error as exc:
        raise _SitemapProblem(f"Sitemap {url} is not valid gzip.") from exc
    if len(data) > _MAX_SITEMAP_BYTES:
        raise _SitemapProblem(f"Sitemap {url} unpacks to more than {_MAX_SITEMAP_BYTES:,} bytes.")
    return data


def _parse_sitemap(url: str, body: bytes, mime: str) -> tuple[str, list[str]]:
    """("index", sitemap URLs) or ("urlset", page URLs); a text sitemap lists one URL a line."""
    if mime == "text/plain":
        lines = body.decode("utf-8", errors="replace").splitlines()
        return "urlset", [line.strip() for line in lines if line.strip().startswith("http")]
    if b"<!ENTITY" in body:  # sitemaps never need entities; refusing them closes entity tricks
        raise _SitemapProblem(f"Sitemap {url} declares XML entities, which are refused.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise _SitemapProblem(f"Sitemap {url} is not valid XML ({exc}).") from exc
    kind = _local(root.tag)
    if kind == "sitemapindex":
        child, result = "sitemap", "index"
    elif kind == "urlset":
        child, result = "url", "urlset"
    else:
        raise _SitemapProblem(f"Sitemap {url} is neither a urlset nor a sitemap index.")
    locs = [
        (loc.text or "").strip()
        for entry in root
        if _local(entry.tag) == child
        for loc in entry
        if _local(loc.tag) == "loc"
    ]
    return result, [loc for loc in locs if loc]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _host_key(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _status_reason(status: int) -> str:
    if status in (401, 403):
        return f"The server refused access (HTTP {status})."
    if status in (404, 410):
        return f"The page was not found (HTTP {status})."
    if status == 429:
        return "The server is rate limiting requests (HTTP 429); try again later."
    if status >= 500:
        return f"The server had an error (HTTP {status}); try again later."
    return f"The server answered HTTP {status} instead of the page."


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _title_from_url(url: str) -> str:
    parts = urlsplit(url)
    segment = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return segment or parts.hostname or url

"""A small website on 127.0.0.1 for the source tests: pages with ETags, a sitemap, failures."""

from __future__ import annotations

import asyncio
import hashlib

from aiohttp import web


class Site:
    """Pages by path; answers 304 to a matching If-None-Match; failures on demand."""

    def __init__(self, pages: dict[str, str] | None = None) -> None:
        self.pages: dict[str, str] = dict(pages or {})
        self.status: dict[str, int] = {}  # path -> status to answer instead (404, 500 ...)
        self.delay: dict[str, float] = {}  # path -> seconds to wait before answering
        self.malformed_sitemap = False
        self.requests: list[tuple[str, str | None]] = []  # (path, If-None-Match)
        self.seen_headers: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        return app

    def page_requests(self, path: str) -> list[str | None]:
        """The If-None-Match header of each request for one page."""
        return [etag for p, etag in self.requests if p == path]

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        self.requests.append((path, request.headers.get("If-None-Match")))
        self.seen_headers.append(dict(request.headers))
        if path in self.delay:
            await asyncio.sleep(self.delay[path])
        if path in self.status:
            return web.Response(status=self.status[path], text="nope")
        if path == "/robots.txt":
            return web.Response(status=404)
        if path == "/sitemap.xml" and self.malformed_sitemap:
            return web.Response(text="<urlset><url>", content_type="application/xml")
        if path == "/sitemap.xml":
            base = f"{request.scheme}://{request.host}"
            urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in sorted(self.pages))
            xml = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            return web.Response(text=xml, content_type="application/xml")
        if path not in self.pages:
            return web.Response(status=404, text="not found")
        body = self.pages[path]
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type="text/html", headers={"ETag": etag})


def page(title: str, *paragraphs: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    head = f"<head><title>{title}</title></head>"
    return f"<html>{head}<body><main><h1>{title}</h1>{body}</main></body></html>"

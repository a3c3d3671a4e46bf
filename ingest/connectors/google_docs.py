"""A Google Doc shared by link, read through its export endpoint (Markdown, else plain text)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from ingest.connectors._markdown import join_blocks
from ingest.connectors.base import (
    USER_AGENT,
    DocumentDefaults,
    Fetched,
    FetchResult,
    ResponseTooLarge,
    Secret,
    SourceFailed,
    describe_http_error,
    read_limited,
)
from ingest.documents import Document

GOOGLE_DOCS_URL = "https://docs.google.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 20_000_000  # Markdown exports inline images as base64, so allow room

NOT_SHARED = "The Google Doc is not shared by link, or the token has expired."
LOGIN_PAGE = (
    "Google answered with a sign-in page instead of the document: the Google Doc is not "
    "shared by link (anyone with the link can view), or the token has expired."
)

_DOC_ID = re.compile(r"[A-Za-z0-9_-]{20,}")
_TEXT_TYPES = ("text/markdown", "text/x-markdown", "text/plain", "application/octet-stream", "")
_HTML_START = re.compile(rb"^\s*(?:<!doctype\s+html|<html)", re.IGNORECASE)
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*([\w-]*)'[^']*'([^;\s]+)", re.IGNORECASE)
_FIRST_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# Google's Markdown export appends every image as a base64 data URI: pure noise for search.
_IMAGE_REF = re.compile(r"!\[[^\]\n]*\]\[image\d+\]")
_IMAGE_DEF = re.compile(r"^\[image\d+\]:\s*<?data:[^\n]*$", re.MULTILINE)
_IMAGE_INLINE = re.compile(r"!\[[^\]\n]*\]\(<?data:[^)\n]*\)")


def parse_google_doc_id(link: str) -> str:
    """The document id in any docs.google.com / drive.google.com link, or a bare id."""
    text = link.strip()
    if _DOC_ID.fullmatch(text):
        return text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in (
        "docs.google.com",
        "drive.google.com",
    ):
        raise ValueError(f"{text!r} is neither a Google Docs link nor a document id.")
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] in ("spreadsheets", "presentation", "forms", "drawings"):
        raise ValueError(f"This is a Google {segments[0]} link, not a Google Doc.")
    if "d" in segments:
        rest = segments[segments.index("d") + 1 :]
        if rest[:1] == ["e"]:
            raise ValueError(
                "This is a 'Publish to the web' link; use the document's share link "
                "(docs.google.com/document/d/<id>/edit) instead."
            )
        if rest and _DOC_ID.fullmatch(rest[0]):
            return rest[0]
    ids = parse_qs(parts.query).get("id", [])
    if ids and _DOC_ID.fullmatch(ids[0]):
        return ids[0]
    raise ValueError(f"No document id found in {text!r}.")


@dataclass(frozen=True)
class _TryText:
    """The Markdown export did not work out in a way the plain-text export may not share."""

    reason: str


class GoogleDocSource:
    """One Google Doc; the token (optional, OAuth) is sent as a Bearer header, never logged."""

    kind = "google_doc"

    def __init__(
        self,
        link: str,
        *,
        token: str | Secret | None = None,
        base_url: str = GOOGLE_DOCS_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        defaults: DocumentDefaults | None = None,
    ) -> None:
        self.google_id = parse_google_doc_id(link)
        self._token = Secret.wrap(token)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.defaults = defaults or DocumentDefaults(source=f"google_doc:{self.google_id}")

    @property
    def doc_id(self) -> str:
        return f"{GOOGLE_DOCS_URL}/document/d/{self.google_id}"

    def __repr__(self) -> str:
        token = "set" if self._token else "none"
        return f"GoogleDocSource({self.google_id!r}, token={token})"

    async def fetch(
        self, client: httpx.AsyncClient, state: dict[str, Any]
    ) -> AsyncIterator[FetchResult]:
        outcome = await self._export(client, "md")
        if isinstance(outcome, _TryText):
            outcome = await self._export(client, "txt")
            if isinstance(outcome, _TryText):
                outcome = outcome.reason
        if isinstance(outcome, str):
            yield SourceFailed(outcome)
            return
        yield Fetched(outcome)

    async def _export(self, client: httpx.AsyncClient, fmt: str) -> Document | str | _TryText:
        """The document, a final failure reason, or a reason to try the plain-text export."""
        headers = {"User-Agent": USER_AGENT}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        url = f"{self.base_url}/document/d/{self.google_id}/export"
        try:
            async with (
                asyncio.timeout(self.timeout),
                client.stream(
                    "GET",
                    url,
                    params={"format": fmt},
                    headers=headers,
                    timeout=self.timeout,
                    follow_redirects=True,
                ) as resp,
            ):
                status = resp.status_code
                if status in (401, 403):
                    return NOT_SHARED
                if status == 404:
                    return _TryText("No Google Doc was found at this link (HTTP 404).")
                if status == 429:
                    return "Google is rate limiting document exports (HTTP 429); try again later."
                if status != 200:
                    return _TryText(f"Google answered HTTP {status} to the document export.")
                mime = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                host = (resp.url.host or "").lower()
                if mime in ("text/html", "application/xhtml+xml") or host == "accounts.google.com":
                    return LOGIN_PAGE
                body = await read_limited(resp, self.max_bytes)
                disposition = resp.headers.get("content-disposition", "")
        except (TimeoutError, httpx.TimeoutException):
            return f"Google did not send the document within {self.timeout:g} seconds."
        except ResponseTooLarge as exc:
            return (
                f"The Google Doc export is larger than the {self.max_bytes:,}-byte limit ({exc})."
            )
        except httpx.HTTPError as exc:
            return f"Could not reach Google Docs: {describe_http_error(exc)}"

        if _HTML_START.match(body):
            return LOGIN_PAGE
        if mime not in _TEXT_TYPES:
            return _TryText(f"Google sent {mime} instead of the document's text.")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _TryText("Google sent a malformed export (not UTF-8 text).")
        if "\x00" in text:
            return _TryText("Google sent a malformed export (binary data, not text).")
        return self._document(
            _clean_markdown(text) if fmt == "md" else text.strip(), disposition, fmt
        )

    def _document(self, text: str, disposition: str, fmt: str) -> Document:
        heading = _FIRST_HEADING.search(text) if fmt == "md" else None
        title = (
            _filename_title(disposition)
            or (heading.group(1).strip("*_ ") if heading else "")
            or "Untitled Google Doc"
        )
        d = self.defaults
        return Document(
            doc_id=self.doc_id,
            title=title,
            text=text,
            source=d.source,
            url=f"{self.doc_id}/edit",
            tags=d.tags,
            visibility=d.visibility,
            metadata={"export_format": fmt},
        )


def _clean_markdown(text: str) -> str:
    for pattern in (_IMAGE_DEF, _IMAGE_REF, _IMAGE_INLINE):
        text = pattern.sub("", text)
    return join_blocks([text])


def _filename_title(disposition: str) -> str:
    """The document's name from Content-Disposition (RFC 6266 `filename*` first)."""
    if not disposition:
        return ""
    star = _FILENAME_STAR.search(disposition)
    name = ""
    if star:
        try:
            name = unquote(star.group(2), encoding=star.group(1) or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            name = ""
    if not name:
        msg = Message()
        msg["content-disposition"] = disposition
        name = msg.get_filename() or ""
    name = name.strip().rsplit("/", 1)[-1]
    for ext in (".md", ".txt", ".markdown"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name.strip()

"""Fetch a clip from a link into a temp file, refusing anything too big, too slow or not a video.

The limits are checked twice: the declared Content-Length before any body is read, and the
bytes actually received while streaming (a server can lie or send no length at all). The whole
download, redirects included, shares one deadline, so a server that trickles bytes still times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from bot.clips.containers import HEAD_BYTES, sniff_container
from bot.clips.errors import (
    BlockedHost,
    ClipTooLarge,
    DownloadConnectionError,
    DownloadHTTPError,
    DownloadTimeout,
    InvalidClipURL,
    NotAVideo,
    TooManyRedirects,
)
from ingest.connectors.outbound import PrivateAddressRefused

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_REDIRECTS = 5

_WRITE_BATCH = 1024 * 1024  # write in ~1 MB batches: one thread hop per batch, not per chunk
_NOT_VIDEO_PREFIXES = ("text/", "image/", "audio/", "font/", "multipart/", "model/")
_NOT_VIDEO_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/xhtml+xml",
        "application/javascript",
        "application/pdf",
        "application/zip",
    }
)
_EXTENSION_BY_TYPE = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
}


@dataclass(frozen=True)
class DownloadedClip:
    """A fetched clip in a temp file; the caller moves it into a `ClipStore` or deletes it."""

    path: Path
    size_bytes: int
    sha256: str
    content_type: str | None
    container: str | None  # "mp4", "mov", "webm", "mkv" from the magic bytes; None if unknown
    extension: str  # ".mp4", ".webm", ... for storing the file
    final_url: str  # after redirects


async def download_clip(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    dest_dir: Path | None = None,
) -> DownloadedClip:
    """Download `url` to a temp file in `dest_dir`; raises a `DownloadError` subclass on failure.

    Pass `ClipStore.incoming_dir` as `dest_dir` so storing the file later is a rename. `client`
    is an `outbound_client()`: its transport refuses loopback/private addresses (`BlockedHost`)
    at every hop, so members can't make the bot probe its own network.
    """
    try:
        async with asyncio.timeout(timeout):
            return await _follow(client, url, max_bytes, timeout, max_redirects, dest_dir)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise DownloadTimeout(timeout) from exc


async def _follow(
    client: httpx.AsyncClient,
    url: str,
    max_bytes: int,
    timeout: float,
    max_redirects: int,
    dest_dir: Path | None,
) -> DownloadedClip:
    current = _parse_url(url)
    for _hop in range(max_redirects + 1):
        try:
            async with client.stream(
                "GET",
                current,
                follow_redirects=False,
                timeout=httpx.Timeout(timeout),
                headers={"Accept": "video/*, application/octet-stream;q=0.5"},
            ) as response:
                if response.is_redirect:
                    current = _parse_url(str(current.join(response.headers["location"])))
                    continue
                if not response.is_success:
                    raise DownloadHTTPError(response.status_code)
                return await _save_body(response, max_bytes, dest_dir)
        except httpx.TimeoutException as exc:
            raise DownloadTimeout(timeout) from exc
        except PrivateAddressRefused as exc:
            raise BlockedHost(current.host) from exc
        except httpx.TransportError as exc:
            raise DownloadConnectionError(current.host) from exc
    raise TooManyRedirects(max_redirects)


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidClipURL(url) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidClipURL(url)
    return parsed


def _media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


async def _save_body(
    response: httpx.Response, max_bytes: int, dest_dir: Path | None
) -> DownloadedClip:
    content_type = _media_type(response.headers.get("content-type"))
    if content_type and (
        content_type.startswith(_NOT_VIDEO_PREFIXES) or content_type in _NOT_VIDEO_TYPES
    ):
        raise NotAVideo(content_type)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ClipTooLarge(max_bytes, int(declared))

    chunks = response.aiter_bytes()
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= HEAD_BYTES:
            break
    container = sniff_container(head)
    if container is None and not _declared_video(content_type, head):
        raise NotAVideo(content_type)

    fd, name = await asyncio.to_thread(
        tempfile.mkstemp, prefix="clip-", suffix=".part", dir=dest_dir
    )
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            pending = [head]
            pending_size = size = len(head)
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ClipTooLarge(max_bytes)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= _WRITE_BATCH:
                    await asyncio.to_thread(_write_batch, out, digest, pending)
                    pending, pending_size = [], 0
            if size > max_bytes:  # the head alone can exceed a tiny limit
                raise ClipTooLarge(max_bytes)
            await asyncio.to_thread(_write_batch, out, digest, pending)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)  # a quick syscall; awaiting here could be cut short by cancellation
        raise
    if container is not None:
        extension = f".{container}"
    else:
        extension = _EXTENSION_BY_TYPE.get(content_type or "", ".video")
    return DownloadedClip(
        path=path,
        size_bytes=size,
        sha256=digest.hexdigest(),
        content_type=content_type,
        container=container,
        extension=extension,
        final_url=str(response.url),
    )


def _declared_video(content_type: str | None, head: bytes) -> bool:
    """A server that says video/* is believed unless the bytes are plainly text or markup."""
    if not content_type or not content_type.startswith("video/"):
        return False
    start = head.lstrip()[:15].lower()
    return not start.startswith((b"<", b"{", b"[")) and b"<html" not in start


def _write_batch(out: IO[bytes], digest: hashlib._Hash, chunks: list[bytes]) -> None:
    for chunk in chunks:
        digest.update(chunk)
        out.write(chunk)

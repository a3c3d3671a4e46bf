"""download_clip against a local server: limits, sniffing, errors with readable messages."""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.clips import (
    BlockedHost,
    ClipError,
    ClipTooLarge,
    DownloadConnectionError,
    DownloadHTTPError,
    DownloadTimeout,
    InvalidClipURL,
    NotAVideo,
    TooManyRedirects,
    download_clip,
    sniff_container,
)
from ingest.connectors.outbound import outbound_client
from tests.clips.conftest import Media
from tests.clips.http_fixture import TEST_MAX_BYTES, ClipServer
from tests.ingest.connectors.network_doubles import (
    PUBLIC_STAND_IN,
    ScriptedDNS,
    pretend_public,
    serving,
)

_TLS = ssl.create_default_context()  # built once: loading CA certificates costs ~0.1 s a client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The bot's client as the tests configure it: the local test server may be reached."""
    async with outbound_client(allow_private=True, verify=_TLS) as http:
        yield http


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    """The bot's client as it runs: loopback and private addresses are refused."""
    async with outbound_client(verify=_TLS) as http:
        yield http


def leftovers(folder: Path) -> list[Path]:
    """Files a failed download left behind (there should be none)."""
    return list(folder.iterdir())


async def fetch(client: httpx.AsyncClient, url: str, tmp_path: Path, **kwargs: object):
    options: dict[str, object] = {
        "max_bytes": TEST_MAX_BYTES,
        "timeout": 5.0,
        "dest_dir": tmp_path,
    }
    options.update(kwargs)
    return await download_clip(client, url, **options)  # type: ignore[arg-type]


async def test_downloads_a_valid_mp4_with_its_hash(
    client: httpx.AsyncClient, clip_server: ClipServer, media: Media, tmp_path: Path
) -> None:
    result = await fetch(client, clip_server.url("/clip.mp4"), tmp_path)
    expected = media.original.read_bytes()
    assert result.path.read_bytes() == expected
    assert result.path.parent == tmp_path
    assert result.size_bytes == len(expected)
    assert result.sha256 == hashlib.sha256(expected).hexdigest()
    assert (result.container, result.extension, result.content_type) == ("mp4", ".mp4", "video/mp4")


async def test_sniffs_webm_and_generic_binary_types(
    client: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path
) -> None:
    webm = await fetch(client, clip_server.url("/clip.webm"), tmp_path)
    assert (webm.container, webm.extension, webm.content_type) == ("webm", ".webm", "video/webm")
    octet = await fetch(client, clip_server.url("/download?id=7"), tmp_path)
    assert (octet.container, octet.extension) == ("mp4", ".mp4")
    untyped = await fetch(client, clip_server.url("/no-type"), tmp_path)
    assert untyped.container == "mp4"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/page.html", "That link is not a video (it is text/html)."),
        ("/image.png", "That link is not a video (it is image/png)."),
        ("/html-as-video", "That link is not a video (it is video/mp4)."),
        ("/html-as-octet", "That link is not a video (it is application/octet-stream)."),
    ],
)
async def test_refuses_what_is_not_a_video(
    client: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path, path: str, message: str
) -> None:
    with pytest.raises(NotAVideo) as caught:
        await fetch(client, clip_server.url(path), tmp_path)
    assert str(caught.value) == message
    assert leftovers(tmp_path) == []  # no temp file left behind


async def test_refuses_a_declared_size_over_the_limit_before_reading(
    client: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path
) -> None:
    with pytest.raises(ClipTooLarge) as caught:
        await fetch(client, clip_server.url("/big-declared"), tmp_path, max_bytes=100 * 1024**2)
    assert str(caught.value) == "That file is 312 MB; clips can be at most 100 MB."
    assert caught.value.size_bytes == 327_155_712
    assert leftovers(tmp_path) == []


async def test_stops_a_chunked_body_that_outgrows_the_limit(
    client: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path
) -> None:
    with pytest.raises(ClipTooLarge) as caught:
        await fetch(client, clip_server.url("/big-chunked"), tmp_path)
    assert caught.value.size_bytes is None
    assert str(caught.value) == "That file is larger than 195 KB; clips can be at most 195 KB."
    assert leftovers(tmp_path) == []  # the partial file is removed


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/missing",
            "The link returned 404 Not Found: it may have expired. Upload the file again.",
        ),
        ("/gone", "The link returned 410 Gone: it may have expired. Upload the file again."),
        (
            "/broken",
            "The link returned 503 Service Unavailable: the host had a problem. "
            "Try again later or upload the file.",
        ),
    ],
)
async def test_http_errors_say_what_to_do(
    client: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path, path: str, message: str
) -> None:
    with pytest.raises(DownloadHTTPError) as caught:
        await fetch(client, clip_server.url(path), tmp_path)
    assert str(caught.value) == message


@pytest.mark.parametrize("path", ["/slow-headers", "/trickle"])
async def test_one_deadline_covers_the_whole_download(
    client: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path, path: str
) -> None:
    with pytest.raises(DownloadTimeout) as caught:
        await fetch(client, clip_server.url(path), tmp_path, timeout=0.4)
    assert str(caught.value) == "The download timed out after 0.4 s."
    assert leftovers(tmp_path) == []


async def test_follows_redirects_up_to_the_limit(
    client: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path
) -> None:
    result = await fetch(client, clip_server.url("/redirect/3"), tmp_path, max_redirects=5)
    assert result.final_url == clip_server.url("/clip.mp4")
    relative = await fetch(client, clip_server.url("/relative-redirect"), tmp_path)
    assert relative.container == "mp4"
    with pytest.raises(TooManyRedirects, match="more than 5 times"):
        await fetch(client, clip_server.url("/loop"), tmp_path, max_redirects=5)
    with pytest.raises(TooManyRedirects):
        await fetch(client, clip_server.url("/redirect/3"), tmp_path, max_redirects=2)


async def test_private_hosts_are_refused_by_default(
    guarded: httpx.AsyncClient, clip_server: ClipServer, tmp_path: Path
) -> None:
    with pytest.raises(BlockedHost) as caught:
        await download_clip(guarded, clip_server.url("/clip.mp4"), dest_dir=tmp_path)
    assert "127.0.0.1" in str(caught.value)
    with pytest.raises(BlockedHost):
        await download_clip(guarded, "http://169.254.169.254/latest/meta-data", dest_dir=tmp_path)
    with pytest.raises(BlockedHost):
        await download_clip(guarded, "http://[::ffff:10.0.0.1]/x.mp4", dest_dir=tmp_path)
    assert leftovers(tmp_path) == []


async def test_a_redirect_into_the_private_network_is_refused(
    guarded: httpx.AsyncClient,
    clip_server: ClipServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first hop is public, the redirect points at the bot host: refused at that hop."""
    pretend_public(monkeypatch)

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(clip_server.url("/clip.mp4"))

    async with serving(tmp_path) as start:
        outside = await start({"/clip": bounce}, host=PUBLIC_STAND_IN)
        with pytest.raises(BlockedHost) as caught:
            await download_clip(guarded, f"{outside.url}/clip", dest_dir=tmp_path)
    assert "127.0.0.1" in str(caught.value)
    assert outside.hits == ["/clip"]
    assert leftovers(tmp_path) == []


async def test_a_link_whose_name_does_not_resolve_is_a_connection_failure(
    guarded: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rule as web sources: not "blocked", not let through; the connection fails."""
    ScriptedDNS({"gone.test": [None]}).install(monkeypatch)
    with pytest.raises(DownloadConnectionError) as caught:
        await download_clip(guarded, "http://gone.test/clip.mp4", dest_dir=tmp_path)
    assert not isinstance(caught.value, BlockedHost)
    assert str(caught.value).startswith("The connection to gone.test failed.")


@pytest.mark.parametrize("url", ["not a link", "ftp://example.com/a.mp4", "file:///etc/passwd"])
async def test_invalid_links(client: httpx.AsyncClient, tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidClipURL, match="not a valid http"):
        await download_clip(client, url, dest_dir=tmp_path)


async def test_connection_refused(client: httpx.AsyncClient, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nobody listens
    with pytest.raises(DownloadConnectionError) as caught:
        await fetch(client, f"http://127.0.0.1:{port}/clip.mp4", tmp_path)
    assert isinstance(caught.value, ClipError)
    assert str(caught.value).startswith("The connection to 127.0.0.1 failed.")


def test_sniff_container() -> None:
    assert sniff_container(b"\0\0\0\x20ftypisom\0\0\0\0") == "mp4"
    assert sniff_container(b"\0\0\0\x14ftypqt  \0\0\0\0") == "mov"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm") == "webm"
    assert sniff_container(b"\x1a\x45\xdf\xa3\xa3\x42\x82\x88matroska") == "mkv"
    assert sniff_container(b"<!doctype html>") is None
    assert sniff_container(b"") is None

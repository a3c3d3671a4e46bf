"""outbound_client: one rule for what is public, checked on each connection the client makes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from ingest.connectors import SourceFailed, WebPageSource
from ingest.connectors.addresses import (
    is_public_address,
    is_public_host,
    resolves_to_public_only,
)
from ingest.connectors.base import Fetched
from ingest.connectors.outbound import PrivateAddressRefused, outbound_client
from tests.ingest.connectors._helpers import collect
from tests.ingest.connectors.network_doubles import (
    PRIVATE,
    PUBLIC_STAND_IN,
    ScriptedDNS,
    Start,
    pretend_public,
    serving,
    trusting_test_cert,
)

NOT_PUBLIC = [
    "127.0.0.1",
    "10.1.2.3",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.251",  # multicast
    "::1",
    "::",
    "fe80::1%eth0",
    "fc00::1",
    "ff02::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
    "fec0::1",  # site-local
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
async def test_addresses_that_reach_private_networks_are_not_public(address: str) -> None:
    assert not is_public_address(address)
    assert not await resolves_to_public_only(address.split("%")[0])


@pytest.mark.parametrize("address", PUBLIC)
async def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(address)
    assert await resolves_to_public_only(address)


async def _text(request: web.Request) -> web.Response:
    return web.Response(text=f"# Page\n\nServed at {request.path}.\n", content_type="text/markdown")


async def _no_robots(request: web.Request) -> web.Response:
    return web.Response(status=404)


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    async with serving(tmp_path) as started:
        yield started


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    async with outbound_client(timeout=5.0) as client:
        yield client


async def test_no_form_of_a_private_address_is_connected_to(
    start: Start, guarded: httpx.AsyncClient
) -> None:
    inside = await start({"/secret": _text}, host=PRIVATE)
    port = inside.port
    for url in (
        f"http://127.0.0.1:{port}/secret",
        f"http://localhost:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        f"http://[64:ff9b::7f00:1]:{port}/secret",
        f"http://[::127.0.0.1]:{port}/secret",
        f"http://2130706433:{port}/secret",  # 127.0.0.1 written as one number
    ):
        with pytest.raises(PrivateAddressRefused):
            await guarded.get(url)
    assert inside.hits == []
    async with outbound_client(allow_private=True) as trusted:  # tests and the host's own CLI
        assert (await trusted.get(f"{inside.url}/secret")).status_code == 200


async def test_every_redirect_hop_is_checked(
    start: Start, guarded: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_public(monkeypatch)
    inside = await start({"/secret": _text}, host=PRIVATE)

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{inside.url}/secret")

    outside = await start({"/page": bounce, "/robots.txt": _no_robots}, host=PUBLIC_STAND_IN)

    with pytest.raises(PrivateAddressRefused) as caught:
        await guarded.get(f"{outside.url}/page", follow_redirects=True)
    assert caught.value.host == PRIVATE
    [failed] = await collect(WebPageSource(f"{outside.url}/page"), guarded)
    assert isinstance(failed, SourceFailed)
    assert failed.reason == "127.0.0.1 is not a public address, so the bot does not fetch from it."
    assert inside.hits == []
    assert outside.hits.count("/page") == 2


async def test_a_name_is_looked_up_once_and_connected_to_as_checked(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the first answer passes the check, a second one would point inside. The
    client never asks twice, so the second answer is never used."""
    pretend_public(monkeypatch)
    outside = await start({"/page": _text}, host=PUBLIC_STAND_IN)
    inside = await start({"/page": _text}, host=PRIVATE, port=outside.port)  # same port
    dns = ScriptedDNS({"rebind.test": [PUBLIC_STAND_IN, PRIVATE]}).install(monkeypatch)

    url = f"http://rebind.test:{outside.port}/page"

    async with outbound_client(timeout=5.0) as client:
        assert (await client.get(url)).status_code == 200
    assert dns.lookups["rebind.test"] == 1  # one lookup for the connection: the one checked
    assert outside.hits == ["/page"]

    async with outbound_client(timeout=5.0) as client:  # a new connection, a new lookup
        with pytest.raises(PrivateAddressRefused):
            await client.get(url)
    assert dns.lookups["rebind.test"] == 2
    assert inside.hits == []


async def test_pages_at_public_addresses_are_fetched(
    start: Start, guarded: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_public(monkeypatch)
    outside = await start({"/page": _text, "/robots.txt": _no_robots}, host=PUBLIC_STAND_IN)
    ScriptedDNS({"pages.test": [PUBLIC_STAND_IN]}).install(monkeypatch)

    [fetched] = await collect(WebPageSource(f"http://pages.test:{outside.port}/page"), guarded)

    assert isinstance(fetched, Fetched)
    assert "Served at /page." in fetched.document.text


async def test_https_is_verified_for_the_name_while_connecting_to_the_checked_address(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_public(monkeypatch)
    outside = await start({"/page": _text}, host=PUBLIC_STAND_IN, tls=True)
    ScriptedDNS({"public.test": [PUBLIC_STAND_IN], "other.test": [PUBLIC_STAND_IN]}).install(
        monkeypatch
    )
    async with outbound_client(verify=trusting_test_cert()) as client:
        response = await client.get(f"https://public.test:{outside.port}/page")
        assert response.status_code == 200 and "Served at /page." in response.text
        with pytest.raises(httpx.ConnectError, match="certificate"):  # the name is checked
            await client.get(f"https://other.test:{outside.port}/page")


async def test_a_name_that_does_not_resolve_is_a_connection_failure(
    guarded: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One rule for every fetch: nothing is fetched, and it is not called a private address."""
    ScriptedDNS({"gone.test": [None]}).install(monkeypatch)
    with pytest.raises(httpx.ConnectError) as caught:
        await guarded.get("http://gone.test/page")
    assert not isinstance(caught.value, PrivateAddressRefused)
    assert "gone.test could not be resolved" in str(caught.value)
    [failed] = await collect(WebPageSource("http://gone.test/page"), guarded)
    assert isinstance(failed, SourceFailed)
    assert "Could not connect to the server." in failed.reason
    assert await is_public_host("gone.test")  # adding it is not refused as private either

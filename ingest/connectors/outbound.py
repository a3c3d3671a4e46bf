"""The one HTTP client for fetching addresses members give (web sources, clip links).

Its transport resolves each host itself and connects to the address it checked, then checks the
address the socket is actually connected to: there is no second lookup an attacker's DNS could
answer differently (DNS rebinding). Every redirect hop is a new connection, so it is checked
too. A name that does not resolve is a connection failure, the same rule for every fetch.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

from ingest.connectors import addresses

DEFAULT_TIMEOUT = 30.0


class PrivateAddressRefused(httpx.ConnectError):
    """The host is, or resolves to, an address in the bot host's own network."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} is not a public address ({address})")
        self.host = host
        self.address = address


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to public addresses it resolved itself."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                found = await addresses.resolve(host, port)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"Looking up {host} timed out.") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"{host} could not be resolved ({exc}).") from exc
        for address in found:
            if not addresses.is_public_address(address):
                raise PrivateAddressRefused(host, address)
        error: Exception | None = None
        for address in found:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # try the next address, as a browser would
                continue
            peer = stream.get_extra_info("server_addr")
            connected = str(peer[0]) if peer else ""
            if not connected or not addresses.is_public_address(connected):
                await stream.aclose()
                raise PrivateAddressRefused(host, connected or "an unknown address")
            return stream
        assert error is not None  # `found` is never empty
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise PrivateAddressRefused(path, "a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PublicOnlyTransport(httpx.AsyncHTTPTransport):
    def __init__(self, verify: ssl.SSLContext | bool, limits: httpx.Limits) -> None:
        context = verify if isinstance(verify, ssl.SSLContext) else None
        context = context or httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=context, trust_env=False, limits=limits)
        # httpx has no parameter for a network backend, but the connection pool it wraps has.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PublicOnlyBackend(),
        )


def outbound_client(
    *,
    allow_private: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """The client for every fetch of an address a user gave. Unless `allow_private` (tests, and
    the host's own command line), connections to non-public addresses fail with
    `PrivateAddressRefused`; proxies from the environment are then not used either, since a
    proxy would connect on the bot's behalf to addresses nobody checked."""
    if allow_private:
        return httpx.AsyncClient(timeout=timeout, verify=verify)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return httpx.AsyncClient(
        timeout=timeout,
        trust_env=False,
        transport=_PublicOnlyTransport(verify, limits),
    )

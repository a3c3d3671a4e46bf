"""Stand-ins for the internet in outbound-client tests: a loopback address let pass as a public
one, a scripted DNS, and small servers on chosen loopback addresses that count their requests."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.connectors import addresses

# Linux routes all of 127.0.0.0/8 to loopback: a server on 127.0.0.2 plays a public host while
# one on 127.0.0.1 plays the bot host's own network.
PUBLIC_STAND_IN = "127.0.0.2"
PRIVATE = "127.0.0.1"

# A self-signed certificate (its own CA) for the name public.test, valid until 2126.
CERT_PEM = """-----BEGIN CERTIFICATE-----
MIIBqjCCAVGgAwIBAgIUOxmCU9x9TNYqG79FK/HG77lkK/QwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLcHVibGljLnRlc3QwIBcNMjYxMTI5MDk0NTA3WhgPMjEyNjEx
MDUwOTQ1MDdaMBYxFDASBgNVBAMMC3B1YmxpYy50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEQtVSb7OFDPFyXCvcrsSsZ59jLWWMXICZpUft4271YDi3mpC/
vJU9Md1xnB5nYKKbm00ZWKQREhvcCfbrRhzSBaN7MHkwHQYDVR0OBBYEFFLuxTfV
A12dkSDo1QQ7N69zS3I3MB8GA1UdIwQYMBaAFFLuxTfVA12dkSDo1QQ7N69zS3I3
MBYGA1UdEQQPMA2CC3B1YmxpYy50ZXN0MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0P
AQH/BAQDAgKEMAoGCCqGSM49BAMCA0cAMEQCIB8ubu++yi4hQHeNBBM5FTwi04+i
9ZWh7Po3pIkchQFIAiB7T0L7eSZoMrUt1QLlq6qs9uHe/Mbn898i2xg+9I/Jtw==
-----END CERTIFICATE-----
"""
KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmFS4cxd99GQeUtHB
rGORx+fMhdsSnL9ggEP/1UOiVEehRANCAARC1VJvs4UM8XJcK9yuxKxnn2MtZYxc
gJmlR+3jbvVgOLeakL+8lT0x3XGcHmdgopubTRlYpBESG9wJ9utGHNIF
-----END PRIVATE KEY-----
"""


def pretend_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let PUBLIC_STAND_IN pass the public-address rule; every other address is judged as ever."""
    real = addresses.is_public_address

    def rule(address: addresses.IPAddress | str) -> bool:
        return str(address).split("%", 1)[0] == PUBLIC_STAND_IN or real(address)

    monkeypatch.setattr(addresses, "is_public_address", rule)


@dataclass
class ScriptedDNS:
    """Answers for made-up names, one answer per lookup (the last one repeats); None fails."""

    answers: dict[str, list[str | None]]
    lookups: Counter[str] = field(default_factory=Counter)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ScriptedDNS:
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
            name = host.decode() if isinstance(host, bytes) else host
            if name not in self.answers:
                return real(host, port, *args, **kwargs)
            script = self.answers[name]
            answer = script[min(self.lookups[name], len(script) - 1)]
            self.lookups[name] += 1
            if answer is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, int(port or 0)))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return self


@dataclass
class CountingServer:
    url: str
    port: int
    hits: list[str]


Start = Callable[..., Awaitable[CountingServer]]


@contextlib.asynccontextmanager
async def serving(folder: Path) -> AsyncIterator[Start]:
    """start(routes, host=..., tls=False, port=0) -> a server that records the path of each
    request; all are stopped on leaving. `folder` receives the TLS key when one is needed."""
    started: list[TestServer] = []

    async def start(
        routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]],
        *,
        host: str,
        tls: bool = False,
        port: int = 0,
    ) -> CountingServer:
        hits: list[str] = []

        @web.middleware
        async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
            hits.append(request.path)
            return await handler(request)

        app = web.Application(middlewares=[count])
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            (folder / "cert.pem").write_text(CERT_PEM)
            (folder / "key.pem").write_text(KEY_PEM)
            context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        server = TestServer(app, host=host, port=port, scheme="https" if tls else "http")
        await server.start_server(ssl=context)
        started.append(server)
        scheme = "https" if tls else "http"
        return CountingServer(f"{scheme}://{host}:{server.port}", server.port or 0, hits)

    try:
        yield start
    finally:
        for server in started:
            await server.close()


def trusting_test_cert() -> ssl.SSLContext:
    """A client TLS context that trusts the test certificate only."""
    return ssl.create_default_context(cadata=CERT_PEM)

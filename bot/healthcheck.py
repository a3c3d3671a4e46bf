"""`python -m bot.healthcheck`: exit 0 when the running bot's /healthz says it is healthy.

The container's HEALTHCHECK. Standard library only, so it starts in a blink every 30 s.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

DEFAULT_HOST = "127.0.0.1"
TIMEOUT_S = 8.0  # /healthz gives the store 5 s to answer


def parse_address(address: str) -> tuple[str, int]:
    """ "HOST:PORT", "[V6]:PORT" or a port alone (on loopback), as GREENROOM_METRICS_ADDR."""
    text = address.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host.strip("[]") or DEFAULT_HOST
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise ValueError(f"GREENROOM_METRICS_ADDR must be HOST:PORT or a port (got {address!r})")
    return host, number


def healthz_url(address: str) -> str:
    """Where this machine reaches an endpoint served at `address` (all interfaces: loopback)."""
    host, port = parse_address(address)
    if host in ("0.0.0.0", "::"):
        host = DEFAULT_HOST
    return f"http://[{host}]:{port}/healthz" if ":" in host else f"http://{host}:{port}/healthz"


def main(argv: Sequence[str] | None = None) -> int:
    address = os.environ.get("GREENROOM_METRICS_ADDR", "").strip()
    if not address:
        print("GREENROOM_METRICS_ADDR is not set: there is no endpoint to check", file=sys.stderr)
        return 1
    url = healthz_url(address)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(url, timeout=TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        print(f"unhealthy ({exc.code}): {exc.read(2000).decode(errors='replace')}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"no answer from {url}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

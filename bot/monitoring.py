"""The operators' HTTP endpoint (`GREENROOM_METRICS_ADDR`): /healthz and /metrics.

It runs in the bot's event loop (aiohttp, which discord.py already uses), beside a probe of how
late the loop wakes timers. Off unless an address is set; 127.0.0.1 unless one is named.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.healthcheck import parse_address

if TYPE_CHECKING:
    from bot.app import GreenroomBot

log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 5.0  # a store that takes longer than this to answer is not reachable
LAG_INTERVAL_S = 0.5


async def watch_loop_lag(bot: GreenroomBot, interval: float = LAG_INTERVAL_S) -> None:
    """Sleep `interval` again and again; whatever it oversleeps is time the loop was busy."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        bot.services.metrics.loop_lagged(max(0.0, loop.time() - started - interval))


class MonitoringEndpoint:
    def __init__(self, bot: GreenroomBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.app = web.Application()
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/metrics", self.metrics)
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        self.host, self.port = sock.getsockname()[:2]
        self._runner = web.AppRunner(self.app, access_log=None)  # a scrape is not news
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        log.info("health and metrics on %s (/healthz, /metrics)", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- checks ----------------------------------------------------------------------------
    def gateway_connected(self) -> bool:
        ws = self.bot.ws
        return self.bot.is_ready() and not self.bot.is_closed() and ws is not None and ws.open

    async def _check(self, probe) -> dict[str, Any]:
        """Run a blocking probe in a thread with a deadline; reachable or the error's name."""
        try:
            await asyncio.wait_for(asyncio.to_thread(probe), STORE_TIMEOUT_S)
        except TimeoutError:
            return {"reachable": False, "error": f"no answer in {STORE_TIMEOUT_S:.0f} s"}
        except Exception as exc:  # a store that is down: report it, never raise
            return {"reachable": False, "error": type(exc).__name__}
        return {"reachable": True}

    async def store(self) -> dict[str, Any]:
        """The vector store (chromadb's heartbeat, on disk or a server)."""
        return await self._check(self.services.library.vectors.client.heartbeat)

    async def database(self) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self.services.db.fetchone("SELECT 1"), STORE_TIMEOUT_S)
        except Exception as exc:
            return {"reachable": False, "error": type(exc).__name__}
        return {"reachable": True}

    # -- handlers --------------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        connected = self.gateway_connected()
        store, database = await asyncio.gather(self.store(), self.database())
        last = self.services.metrics.last_sync
        healthy = connected and store["reachable"] and database["reachable"]
        body = {
            "status": "ok" if healthy else "unhealthy",
            "gateway": {
                "connected": connected,
                "latency_ms": round(self.bot.latency * 1000, 1) if connected else None,
            },
            "store": store,
            "database": database,
            # A failing source (an expired token, say) is reported, not a reason to restart.
            "last_sync": asdict(last) | {"age_s": round(time.time() - last.finished_at, 1)}
            if last
            else None,
        }
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        metrics = self.services.metrics
        metrics.gateway_connected.set(1 if self.gateway_connected() else 0)
        try:
            await metrics.read_stored(self.services.db)
        except Exception:
            log.warning("could not read the clip counts for /metrics", exc_info=True)
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


@asynccontextmanager
async def serve_monitoring(
    bot: GreenroomBot, address: str | None, *, lag_interval: float = LAG_INTERVAL_S
) -> AsyncIterator[MonitoringEndpoint | None]:
    """Serve /healthz and /metrics at `address` while inside (nothing when it is unset)."""
    if not address or not address.strip():
        yield None
        return
    host, port = parse_address(address)
    endpoint = MonitoringEndpoint(bot)
    await endpoint.start(host, port)
    lag = bot.spawn(watch_loop_lag(bot, lag_interval), name="monitoring:loop-lag")
    try:
        yield endpoint
    finally:
        lag.cancel()
        await asyncio.gather(lag, return_exceptions=True)
        await endpoint.stop()

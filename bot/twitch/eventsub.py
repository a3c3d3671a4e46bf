"""EventSub over a WebSocket: the bot needs no public address to hear about redemptions.

One `EventSubClient.run()` task keeps a session alive for as long as the bot runs:
- `session_welcome`: the `subscribe(session_id)` callback runs at once (Twitch closes a session
  that subscribes to nothing within 10 s, so it is bounded by `subscribe_timeout`);
- keepalives: when nothing arrives for `keepalive_timeout_seconds` (+ a grace), the connection
  is taken as lost and a new session is opened (and subscribed) on the first URL;
- `session_reconnect`: the client opens the new URL and waits for its welcome, then reads what
  is left on the old connection until Twitch closes it, then switches: the subscriptions carry
  over, and messages are de-duplicated by id, so nothing is lost or handled twice;
- `revocation`: the `on_revocation` callback hears which subscription ended and why.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.twitch.errors import TwitchAuthError

log = logging.getLogger(__name__)

DEFAULT_EVENTSUB_URL = "wss://eventsub.wss.twitch.tv/ws"
RECONNECT_DELAYS = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)  # the last one repeats


class EventSubProtocolError(Exception):
    """The server said something out of order (no welcome first, a bad frame)."""


@dataclass(frozen=True)
class Notification:
    message_id: str
    subscription_type: str
    subscription_id: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Revocation:
    subscription_id: str
    subscription_type: str
    status: str  # authorization_revoked, user_removed, version_removed, ...
    condition: dict[str, Any]


class _Lost(Exception):
    """The connection ended or went silent: open a new session."""


class EventSubClient:
    def __init__(
        self,
        url: str,
        *,
        subscribe: Callable[[str], Awaitable[None]],
        on_notification: Callable[[Notification], Awaitable[None]],
        on_revocation: Callable[[Revocation], Awaitable[None]] | None = None,
        http: aiohttp.ClientSession | None = None,
        keepalive_grace: float = 3.0,
        welcome_timeout: float = 10.0,
        subscribe_timeout: float = 9.0,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
        remember: int = 1000,
    ) -> None:
        self.url = url
        self.subscribe = subscribe
        self.on_notification = on_notification
        self.on_revocation = on_revocation
        self._http = http
        self.keepalive_grace = keepalive_grace
        self.welcome_timeout = welcome_timeout
        self.subscribe_timeout = subscribe_timeout
        self.reconnect_delays = tuple(reconnect_delays) or (1.0,)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self.session_id: str | None = None
        self.sessions_opened = 0  # new sessions (each one subscribed); reconnects move one
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Keep a subscribed session until cancelled; reconnect with back-off on any loss."""
        own = self._http is None
        http = self._http or aiohttp.ClientSession()
        failures = 0
        try:
            while True:
                try:
                    await self._session(http)
                except (_Lost, EventSubProtocolError, aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("EventSub connection lost (%s); reconnecting", exc or "silent")
                # A session that was up is reopened at once; failing to open one backs off.
                failures = 0 if self.session_id else failures + 1
                self.connected.clear()
                self.session_id = None
                delay = self.reconnect_delays[min(failures, len(self.reconnect_delays) - 1)]
                await asyncio.sleep(delay)
        finally:
            self.connected.clear()
            if own:
                await http.close()

    async def _session(self, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(self.url, autoping=True)
        try:
            welcome = await self._welcome(ws)
            self.session_id = welcome["id"]
            keepalive = float(welcome.get("keepalive_timeout_seconds") or 10)
            self.sessions_opened += 1
            log.info("EventSub session %s open; subscribing", self.session_id)
            try:
                await asyncio.wait_for(self.subscribe(self.session_id), self.subscribe_timeout)
            except TwitchAuthError:
                raise  # no login to subscribe with: retrying cannot help
            except Exception as exc:
                self.session_id = None  # counts as a failure to open: back off
                raise _Lost(f"subscribing failed: {exc}") from exc
            self.connected.set()
            while True:
                reconnect_url = await self._read(ws, keepalive)
                # session_reconnect: move to the new URL without losing what the old one sends.
                new_ws = await http.ws_connect(reconnect_url, autoping=True)
                try:
                    welcome = await self._welcome(new_ws)
                except BaseException:
                    await new_ws.close()
                    raise
                await self._drain(ws, keepalive)
                await ws.close()
                ws = new_ws
                self.session_id = welcome["id"]
                keepalive = float(welcome.get("keepalive_timeout_seconds") or keepalive)
                log.info("EventSub session moved to its reconnect URL")
        finally:
            await ws.close()

    async def _welcome(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        message = await self._receive(ws, self.welcome_timeout)
        if message is None:
            raise _Lost("closed before the welcome")
        if message["metadata"].get("message_type") != "session_welcome":
            raise EventSubProtocolError("the first message was not session_welcome")
        return message["payload"]["session"]

    async def _receive(self, ws, timeout: float) -> dict[str, Any] | None:
        """The next JSON message, or None when the socket closed; TimeoutError when silent."""
        msg = await ws.receive(timeout=timeout)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED):  # fmt: skip
            return None
        if msg.type == aiohttp.WSMsgType.ERROR:
            raise _Lost(f"socket error: {ws.exception()!r}")
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise EventSubProtocolError(f"unexpected frame {msg.type!r}")
        try:
            return json.loads(msg.data)
        except ValueError:
            raise EventSubProtocolError("a frame that is not JSON") from None

    async def _read(self, ws, keepalive: float) -> str:
        """Handle messages until a session_reconnect (its URL is returned) or a loss (raised)."""
        while True:
            try:
                message = await self._receive(ws, keepalive + self.keepalive_grace)
            except TimeoutError:
                raise _Lost(f"no message or keepalive for {keepalive:.0f} s") from None
            if message is None:
                raise _Lost(f"closed by Twitch ({ws.close_code})")
            url = await self._handle(message)
            if url:
                return url

    async def _drain(self, ws, keepalive: float) -> None:
        """Read the old connection until Twitch closes it (bounded), handling what it still
        sends; a second session_reconnect there is ignored."""
        while True:
            try:
                message = await self._receive(ws, keepalive + self.keepalive_grace)
            except (TimeoutError, _Lost):
                return
            if message is None:
                return
            await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> str | None:
        metadata = message.get("metadata") or {}
        kind = metadata.get("message_type")
        payload = message.get("payload") or {}
        if kind == "session_keepalive":
            return None
        if kind == "session_reconnect":
            return payload["session"]["reconnect_url"]
        if kind not in ("notification", "revocation"):
            log.warning("EventSub sent an unknown message type %r", kind)
            return None
        message_id = metadata.get("message_id", "")
        if message_id in self._seen:
            log.debug("EventSub message %s arrived twice; handled once", message_id)
            return None
        self._seen[message_id] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        subscription = payload.get("subscription") or {}
        if kind == "revocation":
            log.warning(
                "Twitch revoked EventSub subscription %s (%s)",
                subscription.get("id"),
                subscription.get("status"),
            )
            if self.on_revocation is not None:
                await self.on_revocation(
                    Revocation(
                        subscription_id=subscription.get("id", ""),
                        subscription_type=subscription.get("type", ""),
                        status=subscription.get("status", ""),
                        condition=subscription.get("condition") or {},
                    )
                )
            return None
        try:
            await self.on_notification(
                Notification(
                    message_id=message_id,
                    subscription_type=metadata.get("subscription_type")
                    or subscription.get("type", ""),
                    subscription_id=subscription.get("id", ""),
                    event=payload.get("event") or {},
                )
            )
        except Exception:
            # Twitch still holds the redemption: the next start's catch-up finds it.
            log.exception("handling EventSub message %s failed", message_id)
        return None

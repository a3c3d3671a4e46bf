"""The gateway websocket conversation: HELLO, IDENTIFY -> READY + GUILD_CREATE, RESUME,
heartbeats, member chunks, and dispatching events to connected sessions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .driver import DiscordDouble

log = logging.getLogger("discord_double.gateway")

# Intents
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

HEARTBEAT_INTERVAL_MS = 45_000


class GatewaySession:
    """One IDENTIFYed session. Survives dropped connections so it can be RESUMEd."""

    def __init__(self, session_id: str, intents: int) -> None:
        self.session_id = session_id
        self.intents = intents
        self.seq = 0
        self.events: list[dict[str, Any]] = []  # sent dispatches, for RESUME replays
        self.ws: web.WebSocketResponse | None = None
        self.lock = asyncio.Lock()
        self.closed = False  # the client closed it (1000/1001) -> not resumable
        self.resumes = 0

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def send(self, payload: dict[str, Any]) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        async with self.lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.events.append(payload)
        await self.send(payload)


class Gateway:
    def __init__(self, double: DiscordDouble) -> None:
        self.double = double
        self.sessions: dict[str, GatewaySession] = {}
        self.received: list[dict[str, Any]] = []  # every payload a client sent (not heartbeats)
        self._connections: set[web.WebSocketResponse] = set()
        self._dropped: set[web.WebSocketResponse] = set()  # closed by drop(): still resumable

    # -- public -------------------------------------------------------------------
    @property
    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if not s.closed]

    @property
    def connected(self) -> bool:
        return any(s.connected for s in self.live_sessions)

    async def dispatch(self, event: str, data: Any, *, intent: int | None = None) -> int:
        """Send a dispatch to every live session whose intents allow it. Returns how many."""
        sent = 0
        for session in self.live_sessions:
            if intent is not None and not session.intents & intent:
                continue
            await session.dispatch(event, self.double._event_view(session, event, data))
            sent += 1
        return sent

    async def drop(self, code: int = 4000) -> None:
        """Close every live connection with a resumable close code."""
        for session in self.live_sessions:
            ws = session.ws
            if ws is not None and not ws.closed:
                self._dropped.add(ws)
                await ws.close(code=code, message=b"dropped by the double")

    async def close(self) -> None:
        for ws in list(self._connections):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"double shutting down")

    # -- websocket handler ----------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self._connections.add(ws)
        session: GatewaySession | None = None
        try:
            await ws.send_str(
                json.dumps({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                data = payload.get("d")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                    continue
                self.received.append(payload)
                if op == 2:
                    session = await self._identify(ws, data)
                elif op == 6:
                    session = await self._resume(ws, data)
                elif op == 8 and session is not None:
                    await self._request_members(session, data)
                # op 3 presence, op 4 voice state and others are accepted and ignored
                self.double._notify()
        except Exception as exc:
            self.double._internal_error("gateway", exc)
        finally:
            self._connections.discard(ws)
            if session is not None and session.ws is ws:
                code = ws.close_code
                if code in (1000, 1001) and ws not in self._dropped:
                    # discord.py closes with 1000 on bot.close(): the session is over
                    session.closed = True
                session.ws = None
            self._dropped.discard(ws)
            self.double._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession:
        double = self.double
        if double.token is not None and data.get("token") != double.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            raise ConnectionAbortedError("bad token in IDENTIFY")
        intents = int(data.get("intents", 0))
        if double.allowed_intents is not None and intents & PRIVILEGED & ~double.allowed_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            raise ConnectionAbortedError("disallowed privileged intents")
        session = GatewaySession(secrets.token_hex(16), intents)
        session.ws = ws
        self.sessions[session.session_id] = session
        state = double.state
        await session.dispatch(
            "READY",
            {
                "v": 10,
                "user": {**state.bot_user.to_dict(), "verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in state.guilds.values()],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": double.gateway_url,
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "auth": {},
                "application": {"id": str(state.application_id), "flags": double.application_flags},
                "_trace": ["discord-double"],
            },
        )
        all_members = bool(intents & GUILD_MEMBERS)
        if intents & GUILDS:
            for guild in state.guilds.values():
                await session.dispatch(
                    "GUILD_CREATE", guild.to_gateway_dict(all_members=all_members)
                )
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, data: dict[str, Any]
    ) -> GatewaySession | None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or session.closed:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        if session.ws is not None and not session.ws.closed and session.ws is not ws:
            await session.ws.close(code=4000)
        session.ws = ws
        session.resumes += 1
        last = int(data.get("seq") or 0)
        for payload in session.events:
            if payload["s"] > last:
                await session.send(payload)
        await session.dispatch("RESUMED", {"_trace": ["discord-double"]})
        return session

    async def _request_members(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self.double.state.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.username.startswith(data["query"])]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk = {
            "guild_id": str(guild.id),
            "members": [m.to_dict() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

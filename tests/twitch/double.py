"""A loopback Twitch look-alike for tests: OAuth (id.twitch.tv), Helix and EventSub's WebSocket,
served over real HTTP and WebSocket on 127.0.0.1, answering what twitchAPI 4.5.0 sends: the
device-code login (`POST /oauth2/device`, `/oauth2/token`), the refresh (`/oauth2/token`, a form),
`GET /oauth2/validate`, the reward and redemption calls under `/helix/`, `POST
/helix/eventsub/subscriptions` (JSON, 202) and the EventSub socket at `/ws` and `/ws-reconnect`.

It keeps Twitch's rules that matter to Greenroom: only the app (client id) that created a reward
may read or update its redemptions; only UNFULFILLED redemptions change; access tokens expire
and are refreshed with the refresh token; a WebSocket session that subscribes to nothing within
`subscribe_deadline` seconds is closed (4003); sessions get keepalives; `session_reconnect` moves
subscriptions to a second URL (the client closes the old connection once the new one is welcomed,
or Twitch does after `reconnect_grace`, 4004). Failures are scripted with `fail_next`.

    async with TwitchDouble() as twitch:
        twitch.add_app("cid", "secret"); user = twitch.add_user("pixelmoth")
        tokens = twitch.issue_tokens(user, "cid")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

REDEMPTION_ADD = "channel.channel_points_custom_reward_redemption.add"
BODY = web.RequestKey("body", object)
SCOPES = ["channel:read:redemptions", "channel:manage:redemptions"]


@dataclass
class Token:
    value: str
    user_id: str
    client_id: str
    scopes: list[str]
    expired: bool = False


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    times: int


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    authorization: str
    client_id: str
    body: Any
    status: int = 0


@dataclass
class Session:
    id: str
    ws: web.WebSocketResponse
    url_kind: str  # "main" or "reconnect"
    keepalive: float
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    welcomed: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[dict] = field(default_factory=list)
    closed: bool = False
    keepalives_on: bool = True
    close_code: int | None = None  # when the double closed it
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class TwitchDouble:
    def __init__(
        self,
        *,
        keepalive: float = 10.0,
        subscribe_deadline: float = 10.0,
        reconnect_grace: float = 30.0,
    ) -> None:
        self.keepalive = keepalive
        self.subscribe_deadline = subscribe_deadline
        self.reconnect_grace = reconnect_grace
        self.port = 0
        self.apps: dict[str, str] = {}
        self.users: dict[str, str] = {}  # id -> login
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, tuple[str, str, list[str]]] = {}  # -> user, client, scopes
        self.device_codes: dict[str, dict[str, Any]] = {}
        self.rewards: dict[str, dict[str, Any]] = {}
        self.redemptions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.sessions: list[Session] = []
        self.requests: list[Request] = []
        self.failures: list[Failure] = []
        self.device_pending_polls = 1  # polls answered authorization_pending before approval
        self.device_user: str | None = None
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task] = set()
        self.changed = asyncio.Condition()

    # --- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> TwitchDouble:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/oauth2/device", self._device)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/oauth2/validate", self._validate)
        app.router.add_post("/helix/channel_points/custom_rewards", self._create_reward)
        app.router.add_get("/helix/channel_points/custom_rewards/redemptions", self._list)
        app.router.add_patch("/helix/channel_points/custom_rewards/redemptions", self._update)
        app.router.add_post("/helix/eventsub/subscriptions", self._subscribe)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/ws-reconnect", self._websocket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self.sessions:
            if not session.ws.closed:
                await session.ws.close()
        await self._runner.cleanup()

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth2"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/helix"

    @property
    def eventsub_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- world ------------------------------------------------------------------------------

    def add_app(self, client_id: str, secret: str) -> None:
        self.apps[client_id] = secret

    def add_user(self, login: str) -> str:
        user_id = str(100000 + next(self._ids))
        self.users[user_id] = login
        return user_id

    def _new_token(self, user_id: str, client_id: str, scopes: list[str]) -> tuple[str, str]:
        access = "at-" + secrets.token_hex(12)
        refresh = "rt-" + secrets.token_hex(12)
        self.tokens[access] = Token(access, user_id, client_id, list(scopes))
        self.refresh_tokens[refresh] = (user_id, client_id, list(scopes))
        return access, refresh

    def issue_tokens(self, user_id: str, client_id: str, scopes=SCOPES) -> dict[str, Any]:
        """Tokens as a finished login would have stored them."""
        access, refresh = self._new_token(user_id, client_id, scopes)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "user_id": user_id,
            "login": self.users[user_id],
            "client_id": client_id,
            "scopes": list(scopes),
            "expires_at": time.time() + 3600,
        }

    def expire_tokens(self) -> None:
        for token in self.tokens.values():
            token.expired = True

    def revoke_refresh_tokens(self) -> None:
        self.refresh_tokens.clear()

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """The next `times` requests matching method and path (a regex) get `status`."""
        self.failures.append(
            Failure(
                method,
                re.compile(path),
                status,
                headers or {},
                body or {"error": "scripted", "status": status, "message": "scripted failure"},
                times,
            )
        )

    def add_redemption(
        self, reward_id: str, user_login: str, user_input: str, *, notify: bool = True
    ) -> dict[str, Any]:
        """A viewer redeems the reward; connected sessions subscribed to it are notified."""
        reward = self.rewards[reward_id]
        redemption = {
            "id": f"red-{next(self._ids)}",
            "broadcaster_id": reward["broadcaster_id"],
            "broadcaster_login": self.users[reward["broadcaster_id"]],
            "broadcaster_name": self.users[reward["broadcaster_id"]],
            "user_id": str(900000 + next(self._ids)),
            "user_login": user_login.lower(),
            "user_name": user_login,
            "user_input": user_input,
            "status": "UNFULFILLED",
            "redeemed_at": _now(),
            "reward": {
                "id": reward_id,
                "title": reward["title"],
                "prompt": reward["prompt"],
                "cost": reward["cost"],
            },
        }
        self.redemptions[redemption["id"]] = redemption
        if notify:
            self.notify(redemption)
        return redemption

    def notification_for(self, sub: dict[str, Any], redemption: dict[str, Any]) -> dict:
        event = {
            "id": redemption["id"],
            "broadcaster_user_id": redemption["broadcaster_id"],
            "broadcaster_user_login": redemption["broadcaster_login"],
            "broadcaster_user_name": redemption["broadcaster_name"],
            "user_id": redemption["user_id"],
            "user_login": redemption["user_login"],
            "user_name": redemption["user_name"],
            "user_input": redemption["user_input"],
            "status": redemption["status"],
            "reward": redemption["reward"],
            "redeemed_at": redemption["redeemed_at"],
        }
        return self._message(
            "notification",
            {"subscription": self._sub_json(sub), "event": event},
            subscription_type=sub["type"],
        )

    def notify(self, redemption: dict[str, Any], sessions: list[Session] | None = None) -> int:
        """Send the notification to each live session holding a matching subscription; returns
        how many got it. With `sessions`, to those (the same message id to each)."""
        sent = 0
        for sub in list(self.subscriptions.values()):
            if (
                sub["status"] != "enabled"
                or sub["condition"].get("reward_id") != (redemption["reward"]["id"])
            ):
                continue
            message = self.notification_for(sub, redemption)
            targets = sessions or [self.session_of(sub)]
            for session in targets:
                if session is not None and not session.closed:
                    self._send(session, message)
                    sent += 1
        return sent

    def session_of(self, sub: dict[str, Any]) -> Session | None:
        live = [s for s in self.sessions if s.id == sub["transport"]["session_id"] and not s.closed]
        return live[-1] if live else None

    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.closed]

    async def send_reconnect(self, session: Session) -> None:
        self._send(
            session,
            self._message(
                "session_reconnect",
                {
                    "session": {
                        "id": session.id,
                        "status": "reconnecting",
                        "keepalive_timeout_seconds": None,
                        "reconnect_url": f"ws://127.0.0.1:{self.port}/ws-reconnect"
                        f"?session={session.id}",
                        "connected_at": _now(),
                    }
                },
            ),
        )

    def revoke(self, sub_id: str, status: str = "authorization_revoked") -> None:
        sub = self.subscriptions[sub_id]
        sub["status"] = status
        session = self.session_of(sub)
        if session is not None:
            self._send(
                session,
                self._message(
                    "revocation",
                    {"subscription": self._sub_json(sub)},
                    subscription_type=sub["type"],
                ),
            )

    def stop_keepalives(self, session: Session) -> None:
        """The connection goes silent (as when it is lost without a close frame)."""
        session.keepalives_on = False

    async def wait_for(self, check, timeout: float = 5.0, what: str = "condition"):
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = check()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the Twitch double waited {timeout} s for {what}")
            await asyncio.sleep(0.01)

    def requests_to(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.search(path, r.path)]

    # --- plumbing ---------------------------------------------------------------------------

    def _message(self, kind: str, payload: dict, *, subscription_type: str | None = None):
        metadata = {
            "message_id": secrets.token_hex(8),
            "message_type": kind,
            "message_timestamp": _now(),
        }
        if subscription_type:
            metadata |= {"subscription_type": subscription_type, "subscription_version": "1"}
        return {"metadata": metadata, "payload": payload}

    def send(self, session: Session, message: dict) -> None:
        """Send a message as it is (e.g. the same notification again, to test de-duplication)."""
        self._send(session, message)

    def _send(self, session: Session, message: dict) -> None:
        session.sent.append(message)
        self._spawn(self._send_in_order(session, json.dumps(message)))

    @staticmethod
    async def _send_in_order(session: Session, text: str) -> None:
        async with session.send_lock:  # FIFO: messages leave in the order they were sent
            if not session.ws.closed:
                await session.ws.send_str(text)

    @staticmethod
    def _sub_json(sub: dict[str, Any]) -> dict[str, Any]:
        return {
            k: sub[k]
            for k in (
                "id",
                "status",
                "type",
                "version",
                "condition",
                "transport",
                "created_at",
                "cost",
            )
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                body = json.loads(raw or b"null")
            else:
                body = dict(await request.post())
        record = Request(
            request.method,
            request.path,
            dict(request.query),
            request.headers.get("Authorization", ""),
            request.headers.get("Client-Id", ""),
            body,
        )
        if request.path not in ("/ws", "/ws-reconnect"):
            self.requests.append(record)
        request[BODY] = body
        for failure in self.failures:
            if (
                failure.times > 0
                and failure.method == request.method
                and failure.path.search(request.path)
            ):
                failure.times -= 1
                record.status = failure.status
                return web.json_response(
                    failure.body, status=failure.status, headers=failure.headers
                )
        response = await handler(request)
        record.status = response.status
        return response

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
        return web.json_response(
            {"error": names.get(status, "Error"), "status": status, "message": message},
            status=status,
        )

    def _user_token(self, request: web.Request) -> Token | web.Response:
        header = request.headers.get("Authorization", "")
        token = self.tokens.get(header.removeprefix("Bearer "))
        if token is None or token.expired or not header.startswith("Bearer "):
            return self._error(401, "Invalid OAuth token")
        if request.headers.get("Client-Id") != token.client_id:
            return self._error(401, "Client ID and OAuth token do not match")
        return token

    # --- OAuth ------------------------------------------------------------------------------

    async def _device(self, request: web.Request) -> web.Response:
        form = request[BODY]
        if form.get("client_id") not in self.apps:
            return self._error(400, "invalid client")
        code = "dc-" + secrets.token_hex(8)
        user_code = secrets.token_hex(4).upper()
        self.device_codes[code] = {
            "client_id": form["client_id"],
            "scopes": form.get("scopes", "").split(),
            "polls": 0,
            "user_code": user_code,
        }
        return web.json_response(
            {
                "device_code": code,
                "user_code": user_code,
                "verification_uri": f"https://www.twitch.tv/activate?device-code={user_code}",
                "expires_in": 1800,
                "interval": 0,
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = request[BODY]
        client_id = form.get("client_id")
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if self.apps.get(client_id) != form.get("client_secret"):
                return self._error(400, "Invalid client secret")
            owner = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if owner is None or owner[1] != client_id:
                return self._error(400, "Invalid refresh token")
            access, refresh = self._new_token(*owner)
            return web.json_response(
                {
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": 14400,
                    "scope": owner[2],
                    "token_type": "bearer",
                }
            )
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            code = self.device_codes.get(form.get("device_code", ""))
            if code is None or code["client_id"] != client_id:
                return self._error(400, "invalid device code")
            code["polls"] += 1
            if code["polls"] <= self.device_pending_polls or self.device_user is None:
                return self._error(400, "authorization_pending")
            del self.device_codes[form["device_code"]]
            access, refresh = self._new_token(self.device_user, client_id, code["scopes"])
            return web.json_response(
                {
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": 14400,
                    "scope": code["scopes"],
                    "token_type": "bearer",
                }
            )
        return self._error(400, f"unsupported grant_type {grant}")

    async def _validate(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        token = self.tokens.get(header.removeprefix("OAuth "))
        if token is None or token.expired:
            return self._error(401, "invalid access token")
        return web.json_response(
            {
                "client_id": token.client_id,
                "login": self.users[token.user_id],
                "scopes": token.scopes,
                "user_id": token.user_id,
                "expires_in": 14000,
            }
        )

    # --- Helix ------------------------------------------------------------------------------

    async def _create_reward(self, request: web.Request) -> web.Response:
        token = self._user_token(request)
        if isinstance(token, web.Response):
            return token
        broadcaster = request.query.get("broadcaster_id")
        if broadcaster != token.user_id:
            return self._error(403, "broadcaster_id must match the user in the token")
        if "channel:manage:redemptions" not in token.scopes:
            return self._error(401, "Missing scope: channel:manage:redemptions")
        body = request[BODY] or {}
        if not body.get("title") or int(body.get("cost", 0)) < 1:
            return self._error(400, "title and a cost of at least 1 are required")
        if any(
            r["title"] == body["title"] and r["broadcaster_id"] == broadcaster
            for r in self.rewards.values()
        ):
            return self._error(400, "CREATE_CUSTOM_REWARD_DUPLICATE_REWARD")
        reward = {
            "id": f"rew-{secrets.token_hex(6)}",
            "broadcaster_id": broadcaster,
            "broadcaster_login": self.users[broadcaster],
            "broadcaster_name": self.users[broadcaster],
            "client_id": token.client_id,
            "title": body["title"],
            "prompt": body.get("prompt", ""),
            "cost": int(body["cost"]),
            "is_user_input_required": bool(body.get("is_user_input_required", False)),
            "should_redemptions_skip_request_queue": bool(
                body.get("should_redemptions_skip_request_queue", False)
            ),
            "is_enabled": body.get("is_enabled", True),
            "is_paused": False,
        }
        self.rewards[reward["id"]] = reward
        shown = {k: v for k, v in reward.items() if k != "client_id"}
        return web.json_response({"data": [shown]})

    def _owned_reward(self, request: web.Request, token: Token):
        reward = self.rewards.get(request.query.get("reward_id", ""))
        if reward is None or reward["broadcaster_id"] != request.query.get("broadcaster_id"):
            return self._error(404, "reward not found")
        if reward["broadcaster_id"] != token.user_id:
            return self._error(403, "broadcaster_id must match the user in the token")
        if reward["client_id"] != token.client_id:
            return self._error(
                403, "The ID in header must match the client ID used to create the custom reward"
            )
        return reward

    async def _list(self, request: web.Request) -> web.Response:
        token = self._user_token(request)
        if isinstance(token, web.Response):
            return token
        reward = self._owned_reward(request, token)
        if isinstance(reward, web.Response):
            return reward
        status = request.query.get("status")
        found = [
            r
            for r in self.redemptions.values()
            if r["reward"]["id"] == reward["id"] and (status is None or r["status"] == status)
        ]
        first = int(request.query.get("first", "20"))
        start = int(request.query.get("after") or 0)
        page = found[start : start + first]
        cursor = str(start + first) if start + first < len(found) else None
        return web.json_response({"data": page, "pagination": {"cursor": cursor} if cursor else {}})

    async def _update(self, request: web.Request) -> web.Response:
        token = self._user_token(request)
        if isinstance(token, web.Response):
            return token
        reward = self._owned_reward(request, token)
        if isinstance(reward, web.Response):
            return reward
        status = (request[BODY] or {}).get("status")
        if status not in ("FULFILLED", "CANCELED"):
            return self._error(400, "status must be FULFILLED or CANCELED")
        ids = request.query.getall("id", [])
        changed = [
            self.redemptions[i]
            for i in ids
            if i in self.redemptions
            and self.redemptions[i]["reward"]["id"] == reward["id"]
            and self.redemptions[i]["status"] == "UNFULFILLED"
        ]
        if not changed:
            return self._error(404, "no UNFULFILLED redemptions with these ids")
        for redemption in changed:
            redemption["status"] = status
        return web.json_response({"data": changed})

    async def _subscribe(self, request: web.Request) -> web.Response:
        token = self._user_token(request)
        if isinstance(token, web.Response):
            return token
        body = request[BODY] or {}
        transport = body.get("transport") or {}
        session = next(
            (s for s in self.live_sessions() if s.id == transport.get("session_id")), None
        )
        if transport.get("method") != "websocket" or session is None:
            return self._error(
                400, "websocket transport session does not exist or has already disconnected"
            )
        condition = body.get("condition") or {}
        if body.get("type") != REDEMPTION_ADD or body.get("version") != "1":
            return self._error(400, "unsupported type or version")
        if condition.get("broadcaster_user_id") != token.user_id:
            return self._error(403, "subscription missing proper authorization")
        if "channel:read:redemptions" not in token.scopes:
            return self._error(403, "subscription missing proper authorization")
        for sub in self.subscriptions.values():
            if (
                sub["status"] == "enabled"
                and sub["transport"]["session_id"] == session.id
                and sub["condition"] == condition
            ):
                return self._error(409, "subscription already exists")
        sub = {
            "id": f"sub-{secrets.token_hex(6)}",
            "status": "enabled",
            "type": body["type"],
            "version": body["version"],
            "condition": condition,
            "transport": {"method": "websocket", "session_id": session.id},
            "created_at": _now(),
            "cost": 0,
        }
        self.subscriptions[sub["id"]] = sub
        session.subscribed.set()
        return web.json_response(
            {"data": [sub], "total": 1, "total_cost": 0, "max_total_cost": 10}, status=202
        )

    # --- EventSub WebSocket -----------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        moving_from = request.query.get("session") if request.path == "/ws-reconnect" else None
        old = next((s for s in self.live_sessions() if s.id == moving_from), None)
        if request.path == "/ws-reconnect" and old is None:
            await ws.close(code=4007, message=b"Invalid reconnect")
            return ws
        keepalive = float(request.query.get("keepalive_timeout_seconds", self.keepalive))
        session_id = old.id if old else f"sess-{secrets.token_hex(6)}"
        session = Session(session_id, ws, "reconnect" if old else "main", keepalive)
        self.sessions.append(session)
        self._send(
            session,
            self._message(
                "session_welcome",
                {
                    "session": {
                        "id": session_id,
                        "status": "connected",
                        "keepalive_timeout_seconds": keepalive,
                        "reconnect_url": None,
                        "connected_at": _now(),
                    }
                },
            ),
        )
        session.welcomed.set()
        if old is not None:
            # The subscriptions carry over, and from now on events go to the new connection
            # (`session_of` picks the newest). The client closes the old one; if it does not
            # within the grace time, Twitch does (4004).
            session.subscribed.set()
            self._spawn(self._reconnect_grace(old))
        watchers = [self._spawn(self._keepalives(session))]
        if old is None:
            watchers.append(self._spawn(self._subscribe_deadline(session)))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:  # clients may not send: Twitch closes
                    await ws.close(code=4001, message=b"Client sent inbound traffic")
        finally:
            session.closed = True
            for watcher in watchers:
                watcher.cancel()
            if not any(s.id == session.id for s in self.live_sessions()):
                for sub in self.subscriptions.values():
                    if sub["transport"]["session_id"] == session.id and sub["status"] == "enabled":
                        sub["status"] = "websocket_disconnected"
        return ws

    async def _keepalives(self, session: Session) -> None:
        while not session.ws.closed:
            await asyncio.sleep(session.keepalive * 0.5)
            if session.keepalives_on and not session.ws.closed:
                self._send(session, self._message("session_keepalive", {}))

    async def _reconnect_grace(self, old: Session) -> None:
        await asyncio.sleep(self.reconnect_grace)
        if not old.ws.closed:
            old.closed = True
            old.close_code = 4004
            await old.ws.close(code=4004, message=b"Reconnect grace time expired")

    async def _subscribe_deadline(self, session: Session) -> None:
        try:
            await asyncio.wait_for(session.subscribed.wait(), self.subscribe_deadline)
        except TimeoutError:
            session.closed = True
            session.close_code = 4003
            await session.ws.close(code=4003, message=b"Connection unused")

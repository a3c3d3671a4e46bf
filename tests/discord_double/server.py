"""The REST half of the double: an aiohttp app answering the routes discord.py 2.7.1 uses."""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import web

from .records import InteractionRecord, RequestRecord
from .state import (
    DM,
    FORUM,
    MEDIA,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    TEXT,
    THREAD_TYPES,
    FakeChannel,
    FakeUser,
    Message,
    iso_now,
    parse_mentions,
)
from .validation import (
    ApiError,
    validate_choices,
    validate_commands,
    validate_message_body,
    validate_modal,
)

if TYPE_CHECKING:
    from .driver import DiscordDouble

P = discord.Permissions

SEND_MESSAGES = P(send_messages=True).value
SEND_IN_THREADS = P(send_messages_in_threads=True).value
VIEW_CHANNEL = P(view_channel=True).value
CREATE_PUBLIC_THREADS = P(create_public_threads=True).value
CREATE_PRIVATE_THREADS = P(create_private_threads=True).value
MANAGE_MESSAGES = P(manage_messages=True).value
MANAGE_THREADS = P(manage_threads=True).value
MANAGE_CHANNELS = P(manage_channels=True).value
MANAGE_ROLES = P(manage_roles=True).value
ADD_REACTIONS = P(add_reactions=True).value
READ_HISTORY = P(read_message_history=True).value
ATTACH_FILES = P(attach_files=True).value

#: flags a message body may set (suppress embeds, ephemeral, suppress notifications, v2)
SETTABLE_FLAGS = 4 | 64 | 4096 | (1 << 15)

Handler = Callable[..., Awaitable[Any]]


class Call:
    """One incoming REST request, parsed."""

    def __init__(self, request: web.Request, path: str, body: Any, files: list[dict]) -> None:
        self.request = request
        self.path = path
        self.query = dict(request.query)
        self.json = body
        self.files = files
        self.record: RequestRecord | None = None

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


def json_response(status: int, body: Any) -> web.Response:
    # discord.py compares the content-type header for equality: no charset suffix.
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


class RestServer:
    def __init__(self, double: DiscordDouble) -> None:
        self.double = double
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        s = r"(\d+)"
        tok = r"([^/]+)"
        add = self._add
        # users / application / gateway
        add("GET", "/users/@me", self.get_me)
        add("GET", f"/users/{s}", self.get_user)
        add("POST", "/users/@me/channels", self.create_dm)
        add("GET", "/oauth2/applications/@me", self.get_application)
        add("GET", "/applications/@me", self.get_application)
        add("GET", "/gateway", self.get_gateway, auth=False)
        add("GET", "/gateway/bot", self.get_gateway)
        # application commands
        for guild_part in ("", f"/guilds/{s}"):
            base = f"/applications/{s}{guild_part}/commands"
            add("GET", base, self.list_commands)
            add("PUT", base, self.put_commands)
            add("POST", base, self.upsert_command)
            add("GET", f"{base}/{s}", self.get_command)
            add("PATCH", f"{base}/{s}", self.edit_command)
            add("DELETE", f"{base}/{s}", self.delete_command)
        add("GET", f"/applications/{s}/guilds/{s}/commands/permissions", self.empty_list)
        # interactions and their webhooks (no bot auth, like Discord)
        add("POST", f"/interactions/{s}/{tok}/callback", self.interaction_callback, auth=False)
        add("POST", f"/webhooks/{s}/{tok}", self.create_followup, auth=False)
        msg = r"(@original|\d+)"
        add("GET", f"/webhooks/{s}/{tok}/messages/{msg}", self.get_webhook_message, auth=False)
        add("PATCH", f"/webhooks/{s}/{tok}/messages/{msg}", self.edit_webhook_message, auth=False)
        add(
            "DELETE", f"/webhooks/{s}/{tok}/messages/{msg}", self.delete_webhook_message, auth=False
        )
        # channels and messages
        add("GET", f"/channels/{s}", self.get_channel)
        add("PATCH", f"/channels/{s}", self.edit_channel)
        add("DELETE", f"/channels/{s}", self.delete_channel)
        add("GET", f"/channels/{s}/messages", self.list_messages)
        add("POST", f"/channels/{s}/messages", self.create_message)
        add("POST", f"/channels/{s}/messages/bulk-delete", self.bulk_delete)
        add("GET", f"/channels/{s}/messages/pins", self.list_pins)
        add("GET", f"/channels/{s}/pins", self.list_pins_legacy)
        for pins in ("messages/pins", "pins"):
            add("PUT", f"/channels/{s}/{pins}/{s}", self.pin)
            add("DELETE", f"/channels/{s}/{pins}/{s}", self.unpin)
        add("GET", f"/channels/{s}/messages/{s}", self.get_message)
        add("PATCH", f"/channels/{s}/messages/{s}", self.edit_message)
        add("DELETE", f"/channels/{s}/messages/{s}", self.delete_message)
        react = f"/channels/{s}/messages/{s}/reactions"
        add("PUT", f"{react}/{tok}/@me", self.add_reaction)
        add("DELETE", f"{react}/{tok}/@me", self.remove_own_reaction)
        add("DELETE", f"{react}/{tok}/{s}", self.remove_user_reaction)
        add("GET", f"{react}/{tok}", self.get_reactions)
        add("DELETE", f"{react}/{tok}", self.clear_emoji_reactions)
        add("DELETE", react, self.clear_reactions)
        add("POST", f"/channels/{s}/typing", self.no_content)
        add("POST", f"/channels/{s}/messages/{s}/threads", self.thread_from_message)
        add("POST", f"/channels/{s}/threads", self.create_thread)
        add("PUT", f"/channels/{s}/thread-members/(@me|\\d+)", self.join_thread)
        add("DELETE", f"/channels/{s}/thread-members/(@me|\\d+)", self.leave_thread)
        add("GET", f"/channels/{s}/thread-members", self.list_thread_members)
        # guilds
        add("GET", f"/guilds/{s}", self.get_guild)
        add("GET", f"/guilds/{s}/channels", self.get_guild_channels)
        add("GET", f"/guilds/{s}/roles", self.get_roles)
        add("GET", f"/guilds/{s}/members", self.list_members)
        add("GET", f"/guilds/{s}/members/{s}", self.get_member)
        add("PATCH", f"/guilds/{s}/members/{s}", self.edit_member)
        add("PUT", f"/guilds/{s}/members/{s}/roles/{s}", self.add_member_role)
        add("DELETE", f"/guilds/{s}/members/{s}/roles/{s}", self.remove_member_role)
        add("GET", f"/guilds/{s}/threads/active", self.active_threads)

    def _add(self, method: str, pattern: str, handler: Handler, *, auth: bool = True) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler, auth))

    # ------------------------------------------------------------------ plumbing
    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.double.gateway.handle)
        app.router.add_get("/attachments/{channel}/{id}/{filename}", self.serve_attachment)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def serve_attachment(self, request: web.Request) -> web.Response:
        stored = self.double.state.files.get(int(request.match_info["id"]))
        if stored is None:
            return json_response(404, {"message": "404: Not Found", "code": 0})
        _filename, content_type, data = stored
        return web.Response(
            body=data, headers={"Content-Type": content_type or "application/octet-stream"}
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        match = re.match(r"^/api/v\d+(/.*)$", request.path)
        if match is None:
            return json_response(404, {"message": "404: Not Found", "code": 0})
        path = match.group(1).rstrip("/") or "/"
        try:
            body, files = await self._read_body(request)
        except Exception as exc:
            return json_response(400, {"message": f"Could not parse body: {exc}", "code": 50109})
        call = Call(request, path, body, files)
        record = RequestRecord(request.method, path, call.query, body, files)
        call.record = record
        self.double.requests.append(record)
        status, payload = await self._route(call)
        record.status = status
        record.response = payload
        if status >= 400:
            self.double.http_errors.append(record)
        self.double._notify()
        if status == 204 or payload is None:
            return web.Response(status=204)
        return json_response(status, payload)

    async def _route(self, call: Call) -> tuple[int, Any]:
        method_mismatch = False
        for method, pattern, handler, auth in self.routes:
            m = pattern.match(call.path)
            if m is None:
                continue
            if method != call.request.method:
                method_mismatch = True
                continue
            try:
                if auth:
                    self._check_auth(call.request)
                result = await handler(call, *m.groups())
            except ApiError as exc:
                return exc.status, exc.body()
            except Exception as exc:  # a bug in the double: report it loudly
                self.double._internal_error(f"{call.request.method} {call.path}", exc)
                return 400, {"message": f"discord double internal error: {exc!r}", "code": 0}
            if isinstance(result, tuple):
                return result
            return (204, None) if result is None else (200, result)
        if method_mismatch:
            return 405, {"message": "405: Method Not Allowed", "code": 0}
        return 404, {"message": "404: Not Found", "code": 0}

    def _check_auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bot "):
            raise ApiError(401, "401: Unauthorized", 0)
        token = self.double.token
        if token is not None and header[4:] != token:
            raise ApiError(401, "401: Unauthorized", 0)

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[dict]]:
        if not request.body_exists:
            return None, []
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            body: Any = None
            files: list[dict] = []
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    data = await part.read(decode=False)
                    index = None
                    m = re.match(r"files\[(\d+)\]", part.name or "")
                    if m:
                        index = int(m.group(1))
                    files.append(
                        {
                            "name": part.name,
                            "index": index,
                            "filename": part.filename,
                            "content_type": part.headers.get("Content-Type"),
                            "data": bytes(data),
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        return json.loads(raw), []

    # ------------------------------------------------------------------ helpers
    @property
    def state(self):
        return self.double.state

    def channel(self, channel_id: str) -> FakeChannel:
        channel = self.state.channels.get(int(channel_id))
        if channel is None:
            raise ApiError(404, "Unknown Channel", 10003)
        return channel

    def guild(self, guild_id: str):
        guild = self.state.guilds.get(int(guild_id))
        if guild is None:
            raise ApiError(404, "Unknown Guild", 10004)
        return guild

    def message(self, channel: FakeChannel, message_id: str) -> Message:
        msg = self.state.messages_by_id.get(int(message_id))
        if msg is None or msg.channel_id != channel.id or msg.ephemeral:
            raise ApiError(404, "Unknown Message", 10008)
        return msg

    def check_app(self, app_id: str) -> None:
        if int(app_id) != self.state.application_id:
            raise ApiError(404, "Unknown Application", 10002)

    def bot_permissions(self, channel: FakeChannel) -> int | None:
        if channel.guild is None:
            return None
        return channel.guild.permissions_for(self.state.bot_user, channel)

    def require(self, channel: FakeChannel, *bits: int) -> None:
        if not self.double.enforce_permissions:
            return
        perms = self.bot_permissions(channel)
        if perms is None:
            return
        if not perms & VIEW_CHANNEL:
            raise ApiError(403, "Missing Access", 50001)
        for bit in bits:
            if not perms & bit:
                raise ApiError(403, "Missing Permissions", 50013)

    def store_files(self, channel: FakeChannel, files: list[dict], body: dict) -> list[dict]:
        """Attachments for a message body: new uploads (``files[n]``) + kept existing ones."""
        by_index = {f["index"]: f for f in files if f["index"] is not None}
        result: list[dict] = []
        used: set[int] = set()
        for spec in body.get("attachments") or []:
            spec_id = int(spec["id"])
            if spec_id in by_index and spec_id not in used:
                used.add(spec_id)
                result.append(self._upload(channel, by_index[spec_id], spec))
            else:
                kept = spec if "url" in spec else None
                if kept is None:
                    raise ApiError(400, "Invalid Form Body", 50035, {"attachments": spec_id})
                result.append(kept)
        for index, upload in sorted(by_index.items()):
            if index not in used:
                result.append(self._upload(channel, upload, {}))
        return result

    def _upload(self, channel: FakeChannel, upload: dict, spec: dict) -> dict:
        att_id = self.state.snowflake()
        filename = spec.get("filename") or upload["filename"] or f"file{upload['index']}"
        ctype = upload.get("content_type")
        if not ctype or ctype == "application/octet-stream":
            import mimetypes

            ctype = mimetypes.guess_type(filename)[0] or ctype
        self.state.files[att_id] = (filename, ctype, upload["data"])
        quoted = urllib.parse.quote(filename)
        url = f"{self.double.base_url}/attachments/{channel.id}/{att_id}/{quoted}"
        data: dict[str, Any] = {
            "id": str(att_id),
            "filename": filename,
            "size": len(upload["data"]),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
        }
        if spec.get("description"):
            data["description"] = spec["description"]
        return data

    def build_message(
        self,
        channel: FakeChannel,
        body: dict,
        files: list[dict],
        *,
        author: FakeUser,
        msg_type: int = 0,
        message_id: int | None = None,
        extra: dict | None = None,
        flags_extra: int = 0,
    ) -> Message:
        validate_message_body(body, files=len(files))
        content = body.get("content") or ""
        user_ids, role_ids, everyone = parse_mentions(content)
        users = [self.state.users[u].to_dict() for u in user_ids if u in self.state.users]
        data: dict[str, Any] = {
            "id": str(message_id or self.state.snowflake()),
            "type": msg_type,
            "channel_id": str(channel.id),
            "author": author.to_dict(),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": everyone,
            "mentions": users,
            "mention_roles": [str(r) for r in role_ids],
            "attachments": self.store_files(channel, files, body),
            "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
            "reactions": [],
            "pinned": False,
            "flags": (int(body.get("flags") or 0) & SETTABLE_FLAGS) | flags_extra,
            "components": body.get("components") or [],
        }
        if body.get("nonce") is not None:
            data["nonce"] = body["nonce"]
        if body.get("poll"):
            data["poll"] = body["poll"]
        if channel.is_thread:
            data["position"] = len(channel.messages)
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            target = self.state.messages_by_id.get(int(ref["message_id"]))
            if target is None:
                if ref.get("fail_if_not_exists", True):
                    raise ApiError(
                        400,
                        "Invalid Form Body",
                        50035,
                        {
                            "message_reference": {
                                "_errors": [
                                    {
                                        "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                        "message": "Unknown message",
                                    }
                                ]
                            }
                        },
                    )
            else:
                data["type"] = 19 if msg_type == 0 else msg_type
                data["message_reference"] = {
                    "type": 0,
                    "message_id": str(target.id),
                    "channel_id": str(target.channel_id),
                    **({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
                }
                data["referenced_message"] = {
                    k: v for k, v in target.items() if k != "referenced_message"
                }
        if extra:
            data.update(extra)
        message = Message(data)
        message.allowed_mentions = body.get("allowed_mentions")
        message.request = body
        message.guild_id = channel.guild_id
        return message

    async def publish(self, message: Message) -> Message:
        self.state.store_message(message)
        channel = self.state.channels.get(message.channel_id)
        if channel is not None and channel.is_thread:
            channel.member_ids.add(message.author_id)
        if not message.ephemeral:
            await self.double._dispatch_message("MESSAGE_CREATE", message)
        self.double._notify()
        return message

    async def apply_edit(self, message: Message, body: dict, files: list[dict]) -> Message:
        body = body or {}
        channel = self.state.channels[message.channel_id]
        merged = {
            "content": body.get("content", message.get("content")),
            "embeds": body.get("embeds", message.get("embeds")),
            "components": body.get("components", message.get("components")),
            "attachments": body.get("attachments", message.get("attachments")),
            "flags": body.get("flags", message.get("flags")),
        }
        validate_message_body(merged, files=len(files))
        if "content" in body:
            message["content"] = body["content"] or ""
            users, roles, everyone = parse_mentions(message["content"])
            message["mentions"] = [
                self.state.users[u].to_dict() for u in users if u in self.state.users
            ]
            message["mention_roles"] = [str(r) for r in roles]
            message["mention_everyone"] = everyone
        if "embeds" in body:
            message["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = body["components"] or []
        if "attachments" in body or files:
            spec = body if "attachments" in body else {"attachments": message["attachments"]}
            message["attachments"] = self.store_files(channel, files, spec)
        if body.get("flags") is not None:
            keep = message.flags & ~SETTABLE_FLAGS | (message.flags & 64)
            message["flags"] = keep | (int(body["flags"]) & SETTABLE_FLAGS & ~64)
        was_loading = message.loading
        message["flags"] = message.flags & ~128
        if not was_loading:
            message["edited_timestamp"] = iso_now()
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        message.edits.append(body)
        if not message.ephemeral:
            await self.double._dispatch_message("MESSAGE_UPDATE", message)
        self.double._notify()
        return message

    async def remove(self, message: Message) -> None:
        self.state.remove_message(message)
        if not message.ephemeral:
            payload: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id:
                payload["guild_id"] = str(message.guild_id)
            await self.double._dispatch_event("MESSAGE_DELETE", payload, self._msg_intent(message))
        self.double._notify()

    @staticmethod
    def _msg_intent(message: Message) -> int:
        return (1 << 9) if message.guild_id else (1 << 12)

    # ------------------------------------------------------------------ users / app
    async def get_me(self, call: Call) -> dict:
        return {**self.state.bot_user.to_dict(), "verified": True, "mfa_enabled": False, "flags": 0}

    async def get_user(self, call: Call, user_id: str) -> dict:
        user = self.state.users.get(int(user_id))
        if user is None:
            raise ApiError(404, "Unknown User", 10013)
        return user.to_dict()

    async def get_application(self, call: Call) -> dict:
        return self.double.application_info()

    async def get_gateway(self, call: Call) -> dict:
        data: dict[str, Any] = {"url": self.double.gateway_url}
        if call.path.endswith("/bot"):
            data["shards"] = 1
            data["session_start_limit"] = {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            }
        return data

    async def create_dm(self, call: Call) -> dict:
        recipient = int((call.json or {}).get("recipient_id", 0))
        user = self.state.users.get(recipient)
        if user is None:
            raise ApiError(404, "Unknown User", 10013)
        return self.state.dm_channel(user).to_dict()

    async def empty_list(self, call: Call, *args: str) -> list:
        return []

    async def no_content(self, call: Call, *args: str) -> None:
        return None

    # ------------------------------------------------------------------ commands
    def _command_scope(self, app_id: str, guild_id: str | None = None) -> int | None:
        self.check_app(app_id)
        if guild_id is None:
            return None
        return self.guild(guild_id).id

    def _stored_command(self, cmd: dict, scope: int | None, old: list[dict]) -> dict:
        ctype = int(cmd.get("type", 1))
        previous = next(
            (c for c in old if c["name"] == cmd.get("name") and c["type"] == ctype), None
        )
        stored = {
            "description": "",
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "options": [],
            **cmd,
            "type": ctype,
            "id": previous["id"] if previous else str(self.state.snowflake()),
            "application_id": str(self.state.application_id),
            "version": str(self.state.snowflake()),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def list_commands(self, call: Call, app_id: str, guild_id: str | None = None) -> list:
        return self.state.commands.get(self._command_scope(app_id, guild_id), [])

    async def put_commands(self, call: Call, app_id: str, guild_id: str | None = None) -> list:
        scope = self._command_scope(app_id, guild_id)
        body = call.json or []
        validate_commands(body)
        old = self.state.commands.get(scope, [])
        self.state.commands[scope] = [self._stored_command(c, scope, old) for c in body]
        return self.state.commands[scope]

    async def upsert_command(
        self, call: Call, app_id: str, guild_id: str | None = None
    ) -> tuple[int, dict]:
        scope = self._command_scope(app_id, guild_id)
        old = self.state.commands.setdefault(scope, [])
        validate_commands([call.json])
        stored = self._stored_command(call.json, scope, old)
        existing = [c for c in old if c["id"] == stored["id"]]
        if existing:
            old[old.index(existing[0])] = stored
            return 200, stored
        old.append(stored)
        return 201, stored

    def _find_command(self, scope: int | None, command_id: str) -> dict:
        for cmd in self.state.commands.get(scope, []):
            if cmd["id"] == command_id:
                return cmd
        raise ApiError(404, "Unknown application command", 10063)

    async def get_command(self, call: Call, app_id: str, *rest: str) -> dict:
        guild_id, command_id = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
        return self._find_command(self._command_scope(app_id, guild_id), command_id)

    async def edit_command(self, call: Call, app_id: str, *rest: str) -> dict:
        guild_id, command_id = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
        cmd = self._find_command(self._command_scope(app_id, guild_id), command_id)
        cmd.update(call.json or {})
        cmd["version"] = str(self.state.snowflake())
        return cmd

    async def delete_command(self, call: Call, app_id: str, *rest: str) -> None:
        guild_id, command_id = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
        scope = self._command_scope(app_id, guild_id)
        cmd = self._find_command(scope, command_id)
        self.state.commands[scope].remove(cmd)

    # ------------------------------------------------------------------ interactions
    def interaction(self, interaction_id: str | None, token: str) -> InteractionRecord:
        record = self.double.interactions_by_token.get(token)
        if record is None or (interaction_id is not None and record.id != int(interaction_id)):
            raise ApiError(404, "Unknown interaction", 10062)
        return record

    def _interaction_message_type(self, record: InteractionRecord) -> int:
        if record.type == 2:
            return 20 if record.data.get("type", 1) == 1 else 23
        return 19 if record.type == 3 else 0

    def _interaction_extra(self, record: InteractionRecord, **more: Any) -> dict:
        user = record.payload.get("member", {}).get("user") or record.payload.get("user")
        metadata: dict[str, Any] = {
            "id": str(record.id),
            "type": record.type,
            "user": user,
            "authorizing_integration_owners": record.payload.get(
                "authorizing_integration_owners", {}
            ),
        }
        if record.type == 2:
            metadata["name"] = record.data.get("name")
            metadata["command_type"] = record.data.get("type", 1)
        if record.payload.get("message"):
            metadata["interacted_message_id"] = record.payload["message"]["id"]
        metadata.update(more)
        return {
            "webhook_id": str(self.state.application_id),
            "application_id": str(self.state.application_id),
            "interaction_metadata": metadata,
        }

    def _source_message(self, record: InteractionRecord) -> Message:
        message = record.source_message
        if message is None:
            raise ApiError(404, "Unknown Message", 10008)
        return message

    async def interaction_callback(self, call: Call, interaction_id: str, token: str) -> Any:
        record = self.interaction(interaction_id, token)
        record_http = call.record
        try:
            return await self._interaction_callback(call, record)
        except ApiError:
            if record_http is not None:
                record.http_errors.append(record_http)
            raise

    async def _interaction_callback(self, call: Call, record: InteractionRecord) -> Any:
        if record.responses:
            raise ApiError(400, "Interaction has already been acknowledged.", 40060)
        deadline = self.double.interaction_deadline
        elapsed = time.monotonic() - record.created_at
        if deadline is not None and elapsed > deadline:
            raise ApiError(404, "Unknown interaction", 10062)
        body = call.json or {}
        rtype = int(body.get("type", 0))
        data = body.get("data") or {}
        allowed = {
            1: {1},
            2: {4, 5, 9, 10, 12},
            3: {4, 5, 6, 7, 9, 10, 12},
            4: {8},
            5: {4, 5, 6, 7, 10},
        }[record.type]
        if rtype in (6, 7) and record.payload.get("message") is None:
            allowed = allowed - {6, 7}
        if rtype not in allowed:
            raise ApiError(
                400,
                f"Interaction callback type {rtype} is invalid for interaction type {record.type}",
                50035,
            )
        channel = self.state.channels[record.channel_id]
        message: Message | None = None
        if rtype == 4:
            message = self.build_message(
                channel,
                data,
                call.files,
                author=self.state.bot_user,
                msg_type=self._interaction_message_type(record),
                extra=self._interaction_extra(record),
            )
        elif rtype == 5:
            flags = 128 | (int(data.get("flags") or 0) & 64)
            message = Message(
                {
                    "id": str(self.state.snowflake()),
                    "type": self._interaction_message_type(record),
                    "channel_id": str(channel.id),
                    "author": self.state.bot_user.to_dict(),
                    "content": "",
                    "timestamp": iso_now(),
                    "edited_timestamp": None,
                    "tts": False,
                    "mention_everyone": False,
                    "mentions": [],
                    "mention_roles": [],
                    "attachments": [],
                    "embeds": [],
                    "reactions": [],
                    "pinned": False,
                    "flags": flags,
                    "components": [],
                    **self._interaction_extra(record),
                }
            )
            message.guild_id = channel.guild_id
        elif rtype == 7:
            message = self._source_message(record)
        elif rtype == 8:
            validate_choices(data.get("choices") or [])
        elif rtype == 9:
            validate_modal(data)

        # everything validated: record the response, then apply it
        record.responses.append(body)
        if rtype in (4, 5):
            assert message is not None
            message.interaction = record
            record.original = message
            if rtype == 4:
                record.messages.append(message)
            await self.publish(message)
        elif rtype == 6:
            record.original = self._source_message(record)
        elif rtype == 7:
            assert message is not None
            record.original = message
            await self.apply_edit(message, data, call.files)
            record.messages.append(message)
        elif rtype == 8:
            record.choices = list(data.get("choices") or [])
        elif rtype == 9:
            record.modal = data
        self.double._notify()

        if not call.flag("with_response"):
            return None
        interaction: dict[str, Any] = {"id": str(record.id), "type": record.type}
        result: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = message.loading
            interaction["response_message_ephemeral"] = message.ephemeral
            result["resource"] = {"type": rtype, "message": message}
        return result

    def _webhook_record(self, app_id: str, token: str) -> InteractionRecord:
        self.check_app(app_id)
        record = self.double.interactions_by_token.get(token)
        if record is None:
            raise ApiError(404, "Unknown Webhook", 10015)
        return record

    def _webhook_message(self, record: InteractionRecord, message_id: str) -> Message:
        if message_id == "@original":
            if record.original is None or record.original.deleted:
                raise ApiError(404, "Unknown Message", 10008)
            return record.original
        for message in [record.original, *record.followups]:
            if message is not None and message.id == int(message_id) and not message.deleted:
                return message
        raise ApiError(404, "Unknown Message", 10008)

    async def create_followup(self, call: Call, app_id: str, token: str) -> Any:
        record = self._webhook_record(app_id, token)
        if not record.responses:
            raise ApiError(404, "Unknown Webhook", 10015)
        body = call.json or {}
        original = record.original
        if (
            record.response_type == 5
            and original is not None
            and original.loading
            and not original.deleted
        ):
            # The first followup after a "thinking" deferral becomes the original response.
            await self.apply_edit(original, body, call.files)
            message = original
        else:
            channel = self.state.channels[record.channel_id]
            if call.query.get("thread_id"):
                channel = self.channel(call.query["thread_id"])
            message = self.build_message(
                channel,
                body,
                call.files,
                author=self.state.bot_user,
                msg_type=self._interaction_message_type(record),
                extra=self._interaction_extra(
                    record,
                    original_response_message_id=str(original.id) if original else None,
                ),
            )
            message.interaction = record
            await self.publish(message)
        record.followups.append(message)
        if message not in record.messages:
            record.messages.append(message)
        self.double._notify()
        return message if call.flag("wait") else None

    async def get_webhook_message(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> dict:
        return self._webhook_message(self._webhook_record(app_id, token), message_id)

    async def edit_webhook_message(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> dict:
        record = self._webhook_record(app_id, token)
        message = self._webhook_message(record, message_id)
        await self.apply_edit(message, call.json or {}, call.files)
        if message not in record.messages:
            record.messages.append(message)
        self.double._notify()
        return message

    async def delete_webhook_message(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> None:
        record = self._webhook_record(app_id, token)
        await self.remove(self._webhook_message(record, message_id))

    # ------------------------------------------------------------------ channels
    async def get_channel(self, call: Call, channel_id: str) -> dict:
        return self.channel(channel_id).to_dict()

    async def edit_channel(self, call: Call, channel_id: str) -> dict:
        channel = self.channel(channel_id)
        body = call.json or {}
        if channel.is_thread:
            own = channel.owner_id == self.state.bot_user.id
            if not own:
                self.require(channel, MANAGE_THREADS)
        else:
            self.require(channel, MANAGE_CHANNELS)
        for key in ("name", "topic", "archived", "locked", "auto_archive_duration", "position"):
            if key in body:
                setattr(channel, key, body[key])
        if "rate_limit_per_user" in body:
            channel.rate_limit_per_user = body["rate_limit_per_user"]
        if "applied_tags" in body:
            channel.applied_tags = [int(t) for t in body["applied_tags"]]
        if "archived" in body:
            channel.archive_timestamp = iso_now()
        data = channel.to_dict()
        event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
        await self.double._dispatch_event(event, data, 1)
        return data

    async def delete_channel(self, call: Call, channel_id: str) -> dict:
        channel = self.channel(channel_id)
        self.require(channel, MANAGE_THREADS if channel.is_thread else MANAGE_CHANNELS)
        data = channel.to_dict()
        del self.state.channels[channel.id]
        if channel.is_thread:
            await self.double._dispatch_event(
                "THREAD_DELETE",
                {
                    "id": str(channel.id),
                    "guild_id": str(channel.guild_id),
                    "parent_id": str(channel.parent_id),
                    "type": channel.type,
                },
                1,
            )
        else:
            await self.double._dispatch_event("CHANNEL_DELETE", data, 1)
        return data

    async def list_messages(self, call: Call, channel_id: str) -> list:
        channel = self.channel(channel_id)
        self.require(channel, READ_HISTORY)
        messages = [m for m in channel.messages if not m.ephemeral]
        q = call.query
        if q.get("before"):
            messages = [m for m in messages if m.id < int(q["before"])]
        if q.get("after"):
            messages = [m for m in messages if m.id > int(q["after"])]
        limit = int(q.get("limit", 50))
        messages = messages[:limit] if q.get("after") else messages[-limit:]
        return list(reversed(messages))

    async def create_message(self, call: Call, channel_id: str) -> dict:
        channel = self.channel(channel_id)
        body = call.json or {}
        if channel.type in (FORUM, MEDIA, 4):
            raise ApiError(400, "Cannot send messages in a non-text channel", 50008)
        if channel.type == DM:
            if channel.recipient is not None and channel.recipient.dms_closed:
                raise ApiError(403, "Cannot send messages to this user", 50007)
        elif channel.is_thread:
            if channel.locked:
                raise ApiError(403, "Missing Permissions", 50013)
            self.require(channel, SEND_IN_THREADS)
            channel.archived = False
        else:
            self.require(channel, SEND_MESSAGES)
        if call.files:
            self.require(channel, ATTACH_FILES)
        message = self.build_message(channel, body, call.files, author=self.state.bot_user)
        await self.publish(message)
        return message

    async def get_message(self, call: Call, channel_id: str, message_id: str) -> dict:
        channel = self.channel(channel_id)
        self.require(channel, READ_HISTORY)
        return self.message(channel, message_id)

    async def edit_message(self, call: Call, channel_id: str, message_id: str) -> dict:
        channel = self.channel(channel_id)
        message = self.message(channel, message_id)
        body = call.json or {}
        if message.author_id != self.state.bot_user.id:
            if set(body) - {"flags"}:
                raise ApiError(403, "Cannot edit a message authored by another user", 50005)
            self.require(channel, MANAGE_MESSAGES)
        return await self.apply_edit(message, body, call.files)

    async def delete_message(self, call: Call, channel_id: str, message_id: str) -> None:
        channel = self.channel(channel_id)
        message = self.message(channel, message_id)
        if message.author_id != self.state.bot_user.id:
            self.require(channel, MANAGE_MESSAGES)
        await self.remove(message)

    async def bulk_delete(self, call: Call, channel_id: str) -> None:
        channel = self.channel(channel_id)
        self.require(channel, MANAGE_MESSAGES)
        ids = [int(i) for i in (call.json or {}).get("messages", [])]
        for mid in ids:
            message = self.state.messages_by_id.get(mid)
            if message is not None and message.channel_id == channel.id:
                self.state.remove_message(message)
        payload: dict[str, Any] = {"ids": [str(i) for i in ids], "channel_id": str(channel.id)}
        if channel.guild_id:
            payload["guild_id"] = str(channel.guild_id)
        await self.double._dispatch_event("MESSAGE_DELETE_BULK", payload, 1 << 9)
        self.double._notify()

    async def list_pins(self, call: Call, channel_id: str) -> dict:
        channel = self.channel(channel_id)
        pins = [m for m in reversed(channel.messages) if m.get("pinned")]
        return {
            "items": [{"pinned_at": m.pinned_at or iso_now(), "message": m} for m in pins],
            "has_more": False,
        }

    async def list_pins_legacy(self, call: Call, channel_id: str) -> list:
        channel = self.channel(channel_id)
        return [m for m in reversed(channel.messages) if m.get("pinned")]

    async def pin(self, call: Call, channel_id: str, message_id: str) -> None:
        channel = self.channel(channel_id)
        self.require(channel, MANAGE_MESSAGES)
        message = self.message(channel, message_id)
        message["pinned"] = True
        message.pinned_at = iso_now()
        self.double._notify()

    async def unpin(self, call: Call, channel_id: str, message_id: str) -> None:
        channel = self.channel(channel_id)
        self.require(channel, MANAGE_MESSAGES)
        self.message(channel, message_id)["pinned"] = False
        self.double._notify()

    # ------------------------------------------------------------------ reactions
    async def add_reaction(self, call: Call, channel_id: str, message_id: str, emoji: str) -> None:
        channel = self.channel(channel_id)
        self.require(channel, ADD_REACTIONS, READ_HISTORY)
        message = self.message(channel, message_id)
        await self.double._react(message, self.state.bot_user, urllib.parse.unquote(emoji), True)

    async def remove_own_reaction(
        self, call: Call, channel_id: str, message_id: str, emoji: str
    ) -> None:
        message = self.message(self.channel(channel_id), message_id)
        await self.double._react(message, self.state.bot_user, urllib.parse.unquote(emoji), False)

    async def remove_user_reaction(
        self, call: Call, channel_id: str, message_id: str, emoji: str, user_id: str
    ) -> None:
        channel = self.channel(channel_id)
        self.require(channel, MANAGE_MESSAGES)
        message = self.message(channel, message_id)
        user = self.state.users.get(int(user_id))
        if user is None:
            raise ApiError(404, "Unknown User", 10013)
        await self.double._react(message, user, urllib.parse.unquote(emoji), False)

    async def get_reactions(self, call: Call, channel_id: str, message_id: str, emoji: str) -> list:
        message = self.message(self.channel(channel_id), message_id)
        users = message.reactors.get(urllib.parse.unquote(emoji), [])
        return [self.state.users[u].to_dict() for u in users if u in self.state.users]

    async def clear_emoji_reactions(
        self, call: Call, channel_id: str, message_id: str, emoji: str
    ) -> None:
        channel = self.channel(channel_id)
        self.require(channel, MANAGE_MESSAGES)
        message = self.message(channel, message_id)
        message.reactors.pop(urllib.parse.unquote(emoji), None)
        self.double._rebuild_reactions(message)

    async def clear_reactions(self, call: Call, channel_id: str, message_id: str) -> None:
        channel = self.channel(channel_id)
        self.require(channel, MANAGE_MESSAGES)
        message = self.message(channel, message_id)
        message.reactors = {}
        self.double._rebuild_reactions(message)

    # ------------------------------------------------------------------ threads
    def _new_thread(
        self, parent: FakeChannel, name: str, body: dict, *, ttype: int, thread_id: int | None
    ) -> FakeChannel:
        if not 1 <= len(name or "") <= 100:
            raise ApiError(
                400,
                "Invalid Form Body",
                50035,
                {
                    "name": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_BAD_LENGTH",
                                "message": "Must be between 1 and 100 in length.",
                            }
                        ]
                    }
                },
            )
        assert parent.guild is not None
        thread = parent.guild.add_thread(
            parent, name, owner=self.state.bot_user, type=ttype, id=thread_id
        )
        if body.get("auto_archive_duration"):
            thread.auto_archive_duration = int(body["auto_archive_duration"])
        if body.get("rate_limit_per_user"):
            thread.rate_limit_per_user = int(body["rate_limit_per_user"])
        return thread

    async def _announce_thread(self, thread: FakeChannel) -> None:
        data = {**thread.to_dict(), "newly_created": True}
        data["member"] = {
            "id": str(thread.id),
            "user_id": str(self.state.bot_user.id),
            "join_timestamp": iso_now(),
            "flags": 1,
        }
        await self.double._dispatch_event("THREAD_CREATE", data, 1)
        self.double._notify()

    async def thread_from_message(self, call: Call, channel_id: str, message_id: str) -> dict:
        channel = self.channel(channel_id)
        if channel.type != TEXT:
            raise ApiError(400, "Cannot execute action on this channel type", 50024)
        message = self.message(channel, message_id)
        if any(t.id == message.id for t in channel.threads):
            raise ApiError(400, "A thread has already been created for this message", 160004)
        self.require(channel, CREATE_PUBLIC_THREADS)
        body = call.json or {}
        thread = self._new_thread(
            channel, body.get("name", ""), body, ttype=PUBLIC_THREAD, thread_id=message.id
        )
        message["thread"] = {k: v for k, v in thread.to_dict().items()}
        await self._announce_thread(thread)
        return thread.to_dict()

    async def create_thread(self, call: Call, channel_id: str) -> tuple[int, dict]:
        channel = self.channel(channel_id)
        body = call.json or {}
        if channel.type in (FORUM, MEDIA):
            self.require(channel, SEND_MESSAGES)
            starter = body.get("message")
            if not starter:
                raise ApiError(
                    400,
                    "Invalid Form Body",
                    50035,
                    {
                        "message": {
                            "_errors": [
                                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
                            ]
                        }
                    },
                )
            tags = [int(t) for t in body.get("applied_tags") or []]
            known = {int(t["id"]) for t in channel.available_tags}
            if len(tags) > 5 or any(t not in known for t in tags):
                raise ApiError(400, "Invalid Form Body", 50035, {"applied_tags": "unknown tag"})
            thread_id = self.state.snowflake()
            validate_message_body(starter, files=len(call.files))
            thread = self._new_thread(
                channel, body.get("name", ""), body, ttype=PUBLIC_THREAD, thread_id=thread_id
            )
            thread.applied_tags = tags
            message = self.build_message(
                thread, starter, call.files, author=self.state.bot_user, message_id=thread_id
            )
            await self._announce_thread(thread)
            await self.publish(message)
            return 201, {**thread.to_dict(), "message": message}
        if channel.type != TEXT:
            raise ApiError(400, "Cannot execute action on this channel type", 50024)
        ttype = int(body.get("type") or PRIVATE_THREAD)
        if ttype not in THREAD_TYPES:
            raise ApiError(400, "Invalid Form Body", 50035, {"type": "invalid thread type"})
        self.require(
            channel, CREATE_PRIVATE_THREADS if ttype == PRIVATE_THREAD else CREATE_PUBLIC_THREADS
        )
        thread = self._new_thread(channel, body.get("name", ""), body, ttype=ttype, thread_id=None)
        await self._announce_thread(thread)
        return 201, thread.to_dict()

    async def join_thread(self, call: Call, channel_id: str, who: str) -> None:
        thread = self.channel(channel_id)
        if not thread.is_thread:
            raise ApiError(400, "Cannot execute action on this channel type", 50024)
        uid = self.state.bot_user.id if who == "@me" else int(who)
        thread.member_ids.add(uid)
        self.double._notify()

    async def leave_thread(self, call: Call, channel_id: str, who: str) -> None:
        thread = self.channel(channel_id)
        uid = self.state.bot_user.id if who == "@me" else int(who)
        thread.member_ids.discard(uid)
        self.double._notify()

    async def list_thread_members(self, call: Call, channel_id: str) -> list:
        thread = self.channel(channel_id)
        return [
            {"id": str(thread.id), "user_id": str(u), "join_timestamp": iso_now(), "flags": 0}
            for u in sorted(thread.member_ids)
        ]

    # ------------------------------------------------------------------ guilds
    async def get_guild(self, call: Call, guild_id: str) -> dict:
        return self.guild(guild_id).to_dict()

    async def get_guild_channels(self, call: Call, guild_id: str) -> list:
        guild = self.guild(guild_id)
        return [c.to_dict() for c in guild.channels if not c.is_thread]

    async def get_roles(self, call: Call, guild_id: str) -> list:
        return [r.to_dict() for r in self.guild(guild_id).roles.values()]

    async def list_members(self, call: Call, guild_id: str) -> list:
        guild = self.guild(guild_id)
        after = int(call.query.get("after", 0))
        limit = int(call.query.get("limit", 1))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
        return [m.to_dict() for m in members[:limit]]

    def _member(self, guild_id: str, user_id: str):
        member = self.guild(guild_id).members.get(int(user_id))
        if member is None:
            raise ApiError(404, "Unknown Member", 10007)
        return member

    async def get_member(self, call: Call, guild_id: str, user_id: str) -> dict:
        return self._member(guild_id, user_id).to_dict()

    async def _member_updated(self, member: Any) -> None:
        data = {**member.to_dict(), "guild_id": str(member.guild.id)}
        await self.double._dispatch_event("GUILD_MEMBER_UPDATE", data, 1 << 1)
        self.double._notify()

    def _require_guild(self, guild: Any, bit: int) -> None:
        if self.double.enforce_permissions and not (
            guild.permissions_for(self.state.bot_user) & bit
        ):
            raise ApiError(403, "Missing Permissions", 50013)

    async def edit_member(self, call: Call, guild_id: str, user_id: str) -> dict:
        member = self._member(guild_id, user_id)
        body = call.json or {}
        if "roles" in body:
            self._require_guild(member.guild, MANAGE_ROLES)
            member.roles = [member.guild.roles[int(r)] for r in body["roles"]]
        if "nick" in body:
            member.nick = body["nick"]
        await self._member_updated(member)
        return member.to_dict()

    async def add_member_role(self, call: Call, guild_id: str, user_id: str, role_id: str) -> None:
        member = self._member(guild_id, user_id)
        self._require_guild(member.guild, MANAGE_ROLES)
        role = member.guild.roles.get(int(role_id))
        if role is None:
            raise ApiError(404, "Unknown Role", 10011)
        if role not in member.roles:
            member.roles.append(role)
        await self._member_updated(member)

    async def remove_member_role(
        self, call: Call, guild_id: str, user_id: str, role_id: str
    ) -> None:
        member = self._member(guild_id, user_id)
        self._require_guild(member.guild, MANAGE_ROLES)
        with contextlib.suppress(ValueError):
            member.roles.remove(member.guild.roles[int(role_id)])
        await self._member_updated(member)

    async def active_threads(self, call: Call, guild_id: str) -> dict:
        guild = self.guild(guild_id)
        threads = [c.to_dict() for c in guild.channels if c.is_thread and not c.archived]
        return {"threads": threads, "members": []}

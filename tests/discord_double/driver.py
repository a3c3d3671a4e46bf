"""``DiscordDouble``: the object tests hold. It owns the world, the REST server and the gateway,
and drives users' actions (slash commands, clicks, modals, messages) over the wire."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import secrets
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from .gateway import (
    DIRECT_MESSAGE_REACTIONS,
    DIRECT_MESSAGES,
    GUILD_MEMBERS,
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    Gateway,
    GatewaySession,
)
from .records import CapturedLog, InteractionRecord, RequestRecord
from .server import RestServer
from .state import (
    ALL_PERMISSIONS,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Message,
    World,
    id_of,
    iso_now,
)
from .validation import ApiError

SEND_MESSAGES = 1 << 11
SEND_IN_THREADS = 1 << 38


class BotError(AssertionError):
    """The bot logged an error (or the double hit an internal error) while a test waited."""

    def __init__(self, errors: list[CapturedLog]) -> None:
        self.errors = errors
        super().__init__("errors were logged:\n" + "\n".join(repr(e) for e in errors))


class CommandNotAvailable(Exception):
    """Real Discord would not let this user invoke this command (not synced / no permission)."""


@dataclasses.dataclass
class Upload:
    """A file a user attaches (slash command attachment option, message attachment)."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None


_OPTION_TYPE_NAMES = {1: "subcommand", 2: "group"}


class DiscordDouble:
    """A Discord look-alike on 127.0.0.1 (REST under ``/api/v10`` + gateway websocket).

    Build the world (``add_guild`` ...) before connecting a bot with ``run_bot``.
    """

    def __init__(
        self,
        *,
        bot_name: str = "Greenroom",
        application_id: int | None = None,
        token: str | None = None,
        interaction_deadline: float | None = 3.0,
        enforce_permissions: bool = True,
        raise_on_error: bool = True,
        allowed_intents: int | None = None,
    ) -> None:
        #: when set, REST auth and IDENTIFY must use this token
        self.token = token
        #: seconds the bot has to answer an interaction callback (None: no limit)
        self.interaction_deadline = interaction_deadline
        #: 403 when the bot lacks channel permissions for REST actions
        self.enforce_permissions = enforce_permissions
        #: waits raise BotError as soon as an ERROR is logged
        self.raise_on_error = raise_on_error
        #: privileged intents enabled "in the developer portal" (None: all)
        self.allowed_intents = allowed_intents
        self.application_flags = (1 << 19) | (1 << 15) | (1 << 13)
        self.state = World(self, bot_name=bot_name, app_id=application_id)
        self.gateway = Gateway(self)
        self.rest = RestServer(self)
        self.requests: list[RequestRecord] = []
        self.http_errors: list[RequestRecord] = []
        self.errors: list[CapturedLog] = []
        self.warnings: list[CapturedLog] = []
        self.interactions: list[InteractionRecord] = []
        self.interactions_by_token: dict[str, InteractionRecord] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._watched: list[asyncio.Task] = []
        self._reported_errors = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> DiscordDouble:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._runner = web.AppRunner(self.rest.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordDouble:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What ``discord.http.Route.BASE`` is set to."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------------ world
    @property
    def bot_user(self) -> FakeUser:
        return self.state.bot_user

    @property
    def application_id(self) -> int:
        return self.state.application_id

    @property
    def guilds(self) -> list[FakeGuild]:
        return list(self.state.guilds.values())

    def add_guild(self, name: str, owner: FakeUser | FakeMember | str | None = None) -> FakeGuild:
        return self.state.add_guild(name, owner)

    def add_user(
        self, username: str, *, bot: bool = False, global_name: str | None = None
    ) -> FakeUser:
        """A user that is in no guild yet (``guild.add_member(user)`` to add them)."""
        return self.state.add_user(username, bot=bot, global_name=global_name)

    def close_dms(self, user: FakeUser | FakeMember, closed: bool = True) -> None:
        """Make the bot's messages to ``user``'s DMs fail with 403 code 50007."""
        self.state.users[id_of(user)].dms_closed = closed

    def channel(self, channel: Any) -> FakeChannel:
        """A channel by object/id, or the DM channel with a user/member."""
        return self.state.resolve_channel(channel)

    def dm_channel(self, user: FakeUser | FakeMember) -> FakeChannel:
        return self.state.dm_channel(user)

    def messages(self, channel: Any, *, include_ephemeral: bool = True) -> list[Message]:
        msgs = self.channel(channel).messages
        return [m for m in msgs if include_ephemeral or not m.ephemeral]

    def get_message(self, message_id: int | str) -> Message | None:
        return self.state.messages_by_id.get(int(message_id))

    def commands(self, guild: FakeGuild | None = None) -> list[dict]:
        """The application commands the bot synced (global, or for ``guild``)."""
        return self.state.commands.get(guild.id if guild else None, [])

    def application_info(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.state.app_owner.to_dict(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "bot": self.bot_user.to_dict(),
            "tags": [],
            "redirect_uris": [],
            "approximate_guild_count": len(self.state.guilds),
        }

    def mark(self) -> int:
        """A snowflake later than everything so far: pass as ``after=`` to waits."""
        return self.state.snowflake()

    def requests_to(self, method: str, path_pattern: str) -> list[RequestRecord]:
        """Recorded requests whose method matches and whose path matches the regex."""
        rx = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method and rx.search(r.path)]

    # ------------------------------------------------------------------ waiting
    def _notify(self) -> None:
        loop = self._loop
        if loop is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                with contextlib.suppress(RuntimeError):  # loop closed
                    loop.call_soon_threadsafe(self._notify)
                return
        self._changed.set()
        self._changed = asyncio.Event()

    def _watch(self, task: asyncio.Task) -> None:
        self._watched.append(task)
        task.add_done_callback(lambda _t: self._notify())

    def _unwatch(self, task: asyncio.Task) -> None:
        if task in self._watched:
            self._watched.remove(task)

    def _check_failures(self) -> None:
        for task in self._watched:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError("the bot task crashed") from task.exception()
            if task.done():
                raise RuntimeError("the bot task ended (bot.start() returned)")
        if self.raise_on_error:
            self.raise_unreported_errors()

    def raise_unreported_errors(self) -> None:
        """Raise BotError for errors logged since the last report."""
        if len(self.errors) > self._reported_errors:
            new = self.errors[self._reported_errors :]
            self._reported_errors = len(self.errors)
            raise BotError(new)

    def _diagnostics(self) -> str:
        lines = []
        if self.errors:
            lines.append(f"errors: {self.errors}")
        if self.http_errors:
            recent = self.http_errors[-5:]
            lines.append(
                "recent HTTP errors: "
                + "; ".join(f"{r.method} {r.path} -> {r.status} {r.response}" for r in recent)
            )
        lines.append("recent requests: " + ", ".join(repr(r) for r in self.requests[-8:]))
        if self.warnings:
            lines.append(f"warnings: {self.warnings[-5:]}")
        if not self.gateway.connected:
            lines.append("no bot is connected to the gateway")
        return "\n  " + "\n  ".join(lines)

    async def wait_until(
        self, check: Callable[[], Any], timeout: float = 2.0, what: str = "condition"
    ) -> Any:
        """Wait until ``check()`` returns something truthy; return it."""
        return await self._wait_until(check, timeout, what)

    async def _wait_until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            self._check_failures()
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}" + self._diagnostics()
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))

    async def wait_for_message(
        self,
        channel: Any,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 2.0,
        *,
        after: int | Message | None = None,
        from_bot: bool = True,
    ) -> Message:
        """The first message in ``channel`` (a channel, id, or a user for their DM) matching.

        By default only messages authored by the bot count; ``after`` (a ``mark()`` or a
        message) skips older messages.
        """
        fake = self.channel(channel)
        floor = id_of(after) if after is not None else 0

        def check() -> Message | None:
            for message in fake.messages:
                if message.id <= floor:
                    continue
                if from_bot and message.author_id != self.bot_user.id:
                    continue
                if message.loading:
                    continue
                if predicate is None or predicate(message):
                    return message
            return None

        return await self._wait_until(check, timeout, f"a message in {fake!r}")

    async def wait_for_thread(
        self,
        parent: Any,
        predicate: Callable[[FakeChannel], bool] | None = None,
        timeout: float = 2.0,
        *,
        after: int | None = None,
    ) -> FakeChannel:
        fake = self.channel(parent)
        floor = after or 0

        def check() -> FakeChannel | None:
            for thread in fake.threads:
                if thread.id > floor and (predicate is None or predicate(thread)):
                    return thread
            return None

        return await self._wait_until(check, timeout, f"a thread in {fake!r}")

    async def wait_for_request(
        self,
        method: str,
        path_pattern: str,
        timeout: float = 2.0,
        *,
        predicate: Callable[[RequestRecord], bool] | None = None,
        after: int = 0,
    ) -> RequestRecord:
        """The first recorded request (index >= ``after``) matching method and path regex."""
        rx = re.compile(path_pattern)

        def check() -> RequestRecord | None:
            for record in self.requests[after:]:
                matches = record.method == method and rx.search(record.path) and record.status
                if matches and (predicate is None or predicate(record)):
                    return record
            return None

        return await self._wait_until(check, timeout, f"a request {method} {path_pattern}")

    # ------------------------------------------------------------------ errors / logs
    def _internal_error(self, where: str, exc: BaseException) -> None:
        self.errors.append(
            CapturedLog(
                "discord_double",
                "ERROR",
                f"internal error in {where}: {exc!r}",
                "".join(traceback.format_exception(exc)),
            )
        )
        self._notify()

    def _capture_log(self, record: logging.LogRecord) -> None:
        exc = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = "".join(traceback.format_exception(record.exc_info[1]))
        captured = CapturedLog(record.name, record.levelname, record.getMessage(), exc)
        if record.levelno >= logging.ERROR:
            self.errors.append(captured)
        else:
            self.warnings.append(captured)
        self._notify()

    # ------------------------------------------------------------------ gateway events
    async def _dispatch_event(self, event: str, data: Any, intent: int | None = None) -> int:
        return await self.gateway.dispatch(event, data, intent=intent)

    def _message_payload(self, message: Message) -> dict[str, Any]:
        payload = dict(message)
        gid = message.guild_id
        if gid:
            guild = self.state.guilds[gid]
            payload["guild_id"] = str(gid)
            member = guild.members.get(message.author_id)
            if member is not None and not message.get("webhook_id"):
                payload["member"] = member.to_dict(with_user=False)
            mentions = []
            for mention in message.get("mentions", []):
                m = guild.members.get(int(mention["id"]))
                mentions.append({**mention, "member": m.to_dict(with_user=False)} if m else mention)
            payload["mentions"] = mentions
        return payload

    async def _dispatch_message(self, event: str, message: Message) -> None:
        intent = GUILD_MESSAGES if message.guild_id else DIRECT_MESSAGES
        await self.gateway.dispatch(event, self._message_payload(message), intent=intent)

    def _event_view(self, session: GatewaySession, event: str, data: Any) -> Any:
        """What a session sees of an event: no MESSAGE_CONTENT intent -> no content."""
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & MESSAGE_CONTENT:
            return data
        if not data.get("guild_id") or int(data["author"]["id"]) == self.bot_user.id:
            return data
        if any(int(m["id"]) == self.bot_user.id for m in data.get("mentions", [])):
            return data
        stripped = dict(data)
        stripped.update(content="", embeds=[], attachments=[], components=[])
        stripped.pop("poll", None)
        return stripped

    async def announce(self, obj: FakeChannel | FakeRole | FakeMember | FakeGuild) -> None:
        """Tell a connected bot about world changes made after it connected."""
        if isinstance(obj, FakeChannel):
            if obj.is_thread:
                await self._dispatch_event(
                    "THREAD_CREATE", {**obj.to_dict(), "newly_created": True}, GUILDS
                )
            else:
                await self._dispatch_event("CHANNEL_CREATE", obj.to_dict(), GUILDS)
        elif isinstance(obj, FakeRole):
            data = {"guild_id": str(obj.guild.id), "role": obj.to_dict()}
            await self._dispatch_event("GUILD_ROLE_CREATE", data, GUILDS)
        elif isinstance(obj, FakeMember):
            data = {**obj.to_dict(), "guild_id": str(obj.guild.id)}
            await self._dispatch_event("GUILD_MEMBER_ADD", data, GUILD_MEMBERS)
        elif isinstance(obj, FakeGuild):
            for session in self.gateway.live_sessions:
                if session.intents & GUILDS:
                    all_members = bool(session.intents & GUILD_MEMBERS)
                    await session.dispatch(
                        "GUILD_CREATE", obj.to_gateway_dict(all_members=all_members)
                    )
        self._notify()

    async def drop_connection(
        self, *, code: int = 4000, wait_resume: bool = True, timeout: float = 5.0
    ) -> None:
        """Close the bot's websocket (resumable); by default wait until it RESUMEd."""
        sessions = [s for s in self.gateway.live_sessions if s.connected]
        if not sessions:
            raise RuntimeError("no connected bot to drop")
        before = {s.session_id: s.resumes for s in sessions}
        await self.gateway.drop(code)
        if wait_resume:
            await self._wait_until(
                lambda: all(s.resumes > before[s.session_id] and s.connected for s in sessions),
                timeout,
                "the bot to RESUME",
            )

    # ------------------------------------------------------------------ reactions
    @staticmethod
    def _emoji(emoji: str) -> dict[str, Any]:
        m = re.fullmatch(r"<?a?:?([^:<>]+):(\d+)>?", emoji)
        if m:
            return {"id": m.group(2), "name": m.group(1)}
        return {"id": None, "name": emoji}

    @staticmethod
    def _emoji_key(emoji: str) -> str:
        m = re.fullmatch(r"<?a?:?([^:<>]+):(\d+)>?", emoji)
        return f"{m.group(1)}:{m.group(2)}" if m else emoji

    def _rebuild_reactions(self, message: Message) -> None:
        reactions = []
        for key, users in message.reactors.items():
            if not users:
                continue
            reactions.append(
                {
                    "emoji": self._emoji(key),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot_user.id in users,
                    "me_burst": False,
                    "burst_colors": [],
                    "burst_count": 0,
                }
            )
        message["reactions"] = reactions
        self._notify()

    async def _react(self, message: Message, user: FakeUser, emoji: str, add: bool) -> None:
        key = self._emoji_key(emoji)
        users = message.reactors.setdefault(key, [])
        if add == (user.id in users):
            return
        if add:
            users.append(user.id)
        else:
            users.remove(user.id)
        self._rebuild_reactions(message)
        payload: dict[str, Any] = {
            "user_id": str(user.id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": self._emoji(key),
            "type": 0,
            "burst": False,
        }
        if message.guild_id:
            payload["guild_id"] = str(message.guild_id)
            member = self.state.guilds[message.guild_id].members.get(user.id)
            if add and member is not None:
                payload["member"] = member.to_dict()
        if add:
            payload["message_author_id"] = str(message.author_id)
            payload["burst_colors"] = []
        intent = GUILD_MESSAGE_REACTIONS if message.guild_id else DIRECT_MESSAGE_REACTIONS
        event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
        await self.gateway.dispatch(event, payload, intent=intent)

    # ------------------------------------------------------------------ users' actions
    def _require_bot(self) -> None:
        if not self.gateway.live_sessions:
            raise RuntimeError("no bot is connected to the double (use run_bot())")

    def _member_of(self, guild: FakeGuild, user: FakeUser | FakeMember) -> FakeMember:
        if isinstance(user, FakeMember) and user.guild is guild:
            return user
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(f"{user!r} is not a member of {guild!r}")
        return member

    def _context(
        self, guild: FakeGuild | None, channel: Any, user: FakeUser | FakeMember
    ) -> tuple[FakeGuild | None, FakeChannel, FakeUser, FakeMember | None]:
        fake_channel = self.channel(channel) if channel is not None else None
        if fake_channel is None:
            if guild is not None:
                raise ValueError("a guild interaction needs a channel")
            fake_channel = self.dm_channel(user)
        if guild is None and fake_channel.guild is not None:
            guild = fake_channel.guild
        if guild is not None and fake_channel.guild is not guild:
            raise ValueError(f"{fake_channel!r} is not in {guild!r}")
        if guild is None:
            fake_user = user.user if isinstance(user, FakeMember) else user
            return None, fake_channel, fake_user, None
        member = self._member_of(guild, user)
        return guild, fake_channel, member.user, member

    def _interaction_payload(
        self,
        itype: int,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        data: dict[str, Any],
        *,
        message: Message | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        guild, fake_channel, fake_user, member = self._context(guild, channel, user)
        payload: dict[str, Any] = {
            "id": str(self.state.snowflake()),
            "application_id": str(self.application_id),
            "type": itype,
            "token": "itok-" + secrets.token_urlsafe(32),
            "version": 1,
            "attachment_size_limit": 10 * 1024 * 1024,
            "locale": locale,
            "entitlements": [],
            "channel_id": str(fake_channel.id),
            "data": data,
        }
        channel_data = fake_channel.to_dict()
        if guild is not None and member is not None:
            perms = guild.permissions_for(member, fake_channel)
            channel_data["permissions"] = str(perms)
            payload.update(
                {
                    "guild_id": str(guild.id),
                    "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
                    "guild_locale": guild.locale,
                    "member": member.to_dict(channel=fake_channel),
                    "app_permissions": str(guild.permissions_for(self.bot_user, fake_channel)),
                    "authorizing_integration_owners": {"0": str(guild.id)},
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": fake_user.to_dict(),
                    "app_permissions": str(
                        (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 6) | (1 << 10)
                    ),
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        payload["channel"] = channel_data
        if message is not None:
            msg_payload = dict(message)
            if message.guild_id:
                msg_payload["guild_id"] = str(message.guild_id)
            payload["message"] = msg_payload
        return payload

    async def _dispatch_interaction(self, payload: dict[str, Any]) -> InteractionRecord:
        self._require_bot()
        record = InteractionRecord(self, payload, time.monotonic())
        self.interactions.append(record)
        self.interactions_by_token[record.token] = record
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        self._notify()
        return record

    # -- application commands -------------------------------------------------------
    def _find_command(
        self, guild: FakeGuild | None, name: str, ctype: int
    ) -> tuple[dict | None, int | None, bool]:
        """(synced command or None, its guild scope, whether anything was synced at all)."""
        scopes = ([guild.id] if guild else []) + [None]
        synced = any(self.state.commands.get(s) for s in scopes)
        for scope in scopes:
            for cmd in self.state.commands.get(scope, []):
                if cmd["name"] == name and int(cmd.get("type", 1)) == ctype:
                    return cmd, scope, synced
        return None, None, synced

    def _command_data(
        self,
        guild: FakeGuild | None,
        member: FakeMember | None,
        name: str,
        ctype: int,
        *,
        guild_command: bool | None,
        check_permissions: bool,
    ) -> tuple[dict[str, Any], dict | None]:
        cmd, scope, synced = self._find_command(guild, name, ctype)
        if cmd is None and synced:
            known = sorted(
                c["name"]
                for s in ([guild.id] if guild else []) + [None]
                for c in self.state.commands.get(s, [])
            )
            raise CommandNotAvailable(
                f"command {name!r} (type {ctype}) is not synced where {guild!r} can see it; "
                f"synced: {known}"
            )
        if cmd is not None:
            contexts = cmd.get("contexts")
            wanted = 0 if guild is not None else 1
            if contexts is not None and wanted not in contexts:
                raise CommandNotAvailable(f"{name!r} is not available in context {wanted}")
            if contexts is None and guild is None and cmd.get("dm_permission") is False:
                raise CommandNotAvailable(f"{name!r} has dm_permission=False")
        if cmd is not None and check_permissions and guild is not None and member is not None:
            required = cmd.get("default_member_permissions")
            if required is not None:
                required = int(required)
                perms = guild.permissions_for(member)
                if perms & required != required or (required == 0 and perms != ALL_PERMISSIONS):
                    raise CommandNotAvailable(
                        f"{member!r} lacks default_member_permissions={required:#x} for {name!r}"
                    )
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.state.snowflake()),
            "name": name,
            "type": ctype,
        }
        if guild_command is None:
            guild_command = scope is not None if cmd is not None else guild is not None
        if guild_command and guild is not None:
            data["guild_id"] = str(guild.id)
        return data, cmd

    @staticmethod
    def _path(name: str, group: str | None, subcommand: str | None) -> list[str]:
        parts = name.split()
        if group:
            parts.append(group)
        if subcommand:
            parts.append(subcommand)
        return parts

    def _schema_for(self, cmd: dict | None, path: list[str]) -> list[dict] | None:
        """Option schema of the leaf (sub)command, or None if the command is not synced."""
        if cmd is None:
            return None
        options = cmd.get("options") or []
        for part in path[1:]:
            nxt = next((o for o in options if o["name"] == part and o["type"] in (1, 2)), None)
            if nxt is None:
                raise ValueError(
                    f"{' '.join(path)!r}: no subcommand/group {part!r} in {cmd['name']!r}"
                )
            options = nxt.get("options") or []
        if any(o["type"] in (1, 2) for o in options):
            names = [o["name"] for o in options]
            raise ValueError(f"{' '.join(path)!r} needs a subcommand/group, one of {names}")
        return options

    def _nest(self, path: list[str], leaf: list[dict], cmd: dict | None) -> list[dict]:
        options = leaf
        types: list[int] = []
        if cmd is not None:
            node = cmd.get("options") or []
            for part in path[1:]:
                spec = next(o for o in node if o["name"] == part)
                types.append(spec["type"])
                node = spec.get("options") or []
        else:
            types = [2, 1][-(len(path) - 1) :] if len(path) > 1 else []
        for part, otype in reversed(list(zip(path[1:], types, strict=True))):
            options = [{"name": part, "type": otype, "options": options}]
        return options

    def _infer_type(self, value: Any) -> int:
        if isinstance(value, bool):
            return 5
        if isinstance(value, int):
            return 4
        if isinstance(value, float):
            return 10
        if isinstance(value, (FakeUser, FakeMember)):
            return 6
        if isinstance(value, FakeChannel):
            return 7
        if isinstance(value, FakeRole):
            return 8
        if isinstance(value, Upload):
            return 11
        return 3

    def _resolve_into(
        self,
        otype: int,
        value: Any,
        resolved: dict[str, dict],
        guild: FakeGuild | None,
        channel: FakeChannel,
        member: FakeMember | None,
    ) -> Any:
        """Serialize an option/select value, filling ``resolved`` for entity types."""
        if otype == 3:
            return str(value)
        if otype == 4:
            return int(value)
        if otype == 10:
            return float(value)
        if otype == 5:
            return bool(value)
        if otype == 9:
            otype = 8 if isinstance(value, FakeRole) else 6
        if otype == 6:
            uid = id_of(value)
            user = self.state.users[uid]
            resolved.setdefault("users", {})[str(uid)] = user.to_dict()
            if guild is not None and uid in guild.members:
                resolved.setdefault("members", {})[str(uid)] = guild.members[uid].to_dict(
                    with_user=False, channel=channel
                )
            return str(uid)
        if otype == 7:
            target = self.channel(value)
            data = target.to_dict()
            if guild is not None and member is not None:
                data["permissions"] = str(guild.permissions_for(member, target))
            else:
                data["permissions"] = "0"
            resolved.setdefault("channels", {})[str(target.id)] = data
            return str(target.id)
        if otype == 8:
            if guild is None:
                raise ValueError("role options need a guild")
            role = value if isinstance(value, FakeRole) else guild.roles[id_of(value)]
            resolved.setdefault("roles", {})[str(role.id)] = role.to_dict()
            return str(role.id)
        if otype == 11:
            attachment = self._store_upload(value, channel)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        raise ValueError(f"unsupported option type {otype}")

    def _store_upload(self, upload: Upload | dict, channel: FakeChannel) -> dict[str, Any]:
        if isinstance(upload, dict):
            return upload
        files = [
            {
                "index": 0,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "data": upload.data,
            }
        ]
        spec = {"attachments": [{"id": 0, "filename": upload.filename}]}
        if upload.description:
            spec["attachments"][0]["description"] = upload.description
        attachment = self.rest.store_files(channel, files, spec)[0]
        attachment["ephemeral"] = True
        return attachment

    def _build_options(
        self,
        schema: list[dict] | None,
        values: Mapping[str, Any],
        resolved: dict[str, dict],
        guild: FakeGuild | None,
        channel: FakeChannel,
        member: FakeMember | None,
        *,
        focused: str | None = None,
    ) -> list[dict]:
        specs = {o["name"]: o for o in schema or []}
        if schema is not None:
            unknown = [n for n in values if n not in specs]
            if unknown:
                raise ValueError(f"unknown options {unknown}; the command has {list(specs)}")
            if focused is None:
                missing = [
                    o["name"] for o in schema if o.get("required") and o["name"] not in values
                ]
                if missing:
                    raise ValueError(f"missing required options {missing}")
        out = []
        for name, value in values.items():
            spec = specs.get(name)
            otype = spec["type"] if spec else self._infer_type(value)
            if name == focused:
                out.append({"name": name, "type": otype, "value": str(value), "focused": True})
                continue
            wire = self._resolve_into(otype, value, resolved, guild, channel, member)
            if spec and spec.get("choices"):
                allowed = [c["value"] for c in spec["choices"]]
                if wire not in allowed:
                    raise ValueError(f"{name}={wire!r} is not one of the choices {allowed}")
            out.append({"name": name, "type": otype, "value": wire})
        return out

    async def slash_command(
        self,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        guild_command: bool | None = None,
        check_permissions: bool = True,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Invoke ``/name [group] [subcommand] options...`` as ``user`` in ``channel``.

        ``name`` may also be a space-separated path ("greenroom setup channels").
        """
        guild, fake_channel, _user, member = self._context(guild, channel, user)
        path = self._path(name, group, subcommand)
        data, cmd = self._command_data(
            guild,
            member,
            path[0],
            1,
            guild_command=guild_command,
            check_permissions=check_permissions,
        )
        schema = self._schema_for(cmd, path)
        resolved: dict[str, dict] = {}
        leaf = self._build_options(schema, options or {}, resolved, guild, fake_channel, member)
        data["options"] = self._nest(path, leaf, cmd)
        if resolved:
            data["resolved"] = resolved
        payload = self._interaction_payload(2, guild, fake_channel, user, data, locale=locale)
        return await self._dispatch_interaction(payload)

    async def autocomplete(
        self,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        name: str,
        focused: str,
        value: str = "",
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        timeout: float = 2.0,
    ) -> list[dict[str, Any]]:
        """Type ``value`` into option ``focused``; return the bot's choices (callback type 8)."""
        guild, fake_channel, _user, member = self._context(guild, channel, user)
        path = self._path(name, group, subcommand)
        data, cmd = self._command_data(
            guild, member, path[0], 1, guild_command=None, check_permissions=True
        )
        schema = self._schema_for(cmd, path)
        if schema is not None:
            spec = next((o for o in schema if o["name"] == focused), None)
            if spec is None or not spec.get("autocomplete"):
                raise ValueError(f"option {focused!r} of {' '.join(path)!r} has no autocomplete")
        values = {**(options or {}), focused: value}
        resolved: dict[str, dict] = {}
        leaf = self._build_options(
            schema, values, resolved, guild, fake_channel, member, focused=focused
        )
        data["options"] = self._nest(path, leaf, cmd)
        if resolved:
            data["resolved"] = resolved
        record = await self._dispatch_interaction(
            self._interaction_payload(4, guild, fake_channel, user, data)
        )
        return await record.wait_choices(timeout)

    async def context_menu(
        self,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        name: str,
        target: Message | FakeUser | FakeMember,
        *,
        check_permissions: bool = True,
    ) -> InteractionRecord:
        """A message command (target a Message) or user command (target a user/member)."""
        guild, fake_channel, _user, member = self._context(guild, channel, user)
        ctype = 3 if isinstance(target, dict) else 2
        data, _cmd = self._command_data(
            guild, member, name, ctype, guild_command=None, check_permissions=check_permissions
        )
        resolved: dict[str, dict] = {}
        if ctype == 3:
            assert isinstance(target, dict)
            stored = self._stored(target)
            msg = self._message_payload(stored)
            resolved["messages"] = {str(stored.id): msg}
            data["target_id"] = str(stored.id)
        else:
            assert not isinstance(target, dict)
            data["target_id"] = self._resolve_into(6, target, resolved, guild, fake_channel, member)
        data["resolved"] = resolved
        return await self._dispatch_interaction(
            self._interaction_payload(2, guild, fake_channel, user, data)
        )

    # -- components -------------------------------------------------------------------
    def _stored(self, message: Message | int | str) -> Message:
        mid = id_of(message)
        stored = self.state.messages_by_id.get(mid)
        if stored is None:
            raise ValueError(f"message {mid} is not stored in the double (deleted?)")
        return stored

    async def click(
        self,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        message: Message | int,
        custom_id: str,
        *,
        check: bool = True,
    ) -> InteractionRecord:
        """Click the button ``custom_id`` on ``message`` (must exist and be enabled)."""
        stored = self._stored(message)
        component = stored.find_component(custom_id)
        if check:
            if component is None:
                raise ValueError(
                    f"no component {custom_id!r} on {stored!r}; custom_ids: {stored.custom_ids}"
                )
            if component.get("type") != 2:
                raise ValueError(f"{custom_id!r} is not a button (use select())")
            if component.get("disabled"):
                raise ValueError(f"button {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if component and component.get("id") is not None:
            data["id"] = component["id"]
        channel = channel if channel is not None else stored.channel_id
        payload = self._interaction_payload(3, guild, channel, user, data, message=stored)
        return await self._dispatch_interaction(payload)

    async def select(
        self,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        message: Message | int,
        custom_id: str,
        values: Iterable[Any],
        *,
        check: bool = True,
    ) -> InteractionRecord:
        """Pick ``values`` in the select menu ``custom_id`` on ``message``.

        String selects take option values; user/role/channel selects take objects or ids.
        """
        stored = self._stored(message)
        component = stored.find_component(custom_id)
        if component is None and check:
            raise ValueError(f"no component {custom_id!r} on {stored!r}")
        ctype = int(component["type"]) if component else 3
        values = list(values)
        if check and component is not None:
            if ctype not in (3, 5, 6, 7, 8):
                raise ValueError(f"{custom_id!r} is not a select")
            if component.get("disabled"):
                raise ValueError(f"select {custom_id!r} is disabled")
            lo, hi = component.get("min_values", 1), component.get("max_values", 1)
            if not lo <= len(values) <= hi:
                raise ValueError(f"select {custom_id!r} takes {lo}..{hi} values")
            if ctype == 3:
                allowed = [o["value"] for o in component.get("options", [])]
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise ValueError(f"{bad} are not options of {custom_id!r}: {allowed}")
        guild_, fake_channel, _u, member = self._context(
            guild, channel if channel is not None else stored.channel_id, user
        )
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype == 3:
            data["values"] = [str(v) for v in values]
        else:
            resolved: dict[str, dict] = {}
            kind = {5: 6, 6: 8, 7: 9, 8: 7}[ctype]
            data["values"] = [
                self._resolve_into(kind, v, resolved, guild_, fake_channel, member) for v in values
            ]
            data["resolved"] = resolved
        if component and component.get("id") is not None:
            data["id"] = component["id"]
        payload = self._interaction_payload(3, guild_, fake_channel, user, data, message=stored)
        return await self._dispatch_interaction(payload)

    # -- modals -------------------------------------------------------------------------
    def _find_modal(self, custom_id: str) -> tuple[dict, InteractionRecord] | None:
        for record in reversed(self.interactions):
            if record.modal is not None and record.modal.get("custom_id") == custom_id:
                return record.modal, record
        return None

    def _submitted(
        self,
        comp: dict,
        values: Mapping[str, Any],
        used: set[str],
        resolved: dict[str, dict],
        channel: FakeChannel,
    ) -> dict | None:
        cid = comp.get("custom_id")
        if cid is None:
            return None
        ctype = comp["type"]
        out: dict[str, Any] = {"type": ctype, "custom_id": cid}
        if comp.get("id") is not None:
            out["id"] = comp["id"]
        present = cid in values
        if present:
            used.add(cid)
        value = values.get(cid)
        if ctype == 4:
            text = str(value) if present else (comp.get("value") or "")
            if comp.get("required", True) and not text:
                raise ValueError(f"text input {cid!r} is required")
            if text and len(text) < int(comp.get("min_length") or 0):
                raise ValueError(f"{cid!r} needs at least {comp['min_length']} characters")
            if comp.get("max_length") and len(text) > int(comp["max_length"]):
                raise ValueError(f"{cid!r} allows at most {comp['max_length']} characters")
            out["value"] = text
        elif ctype in (3, 22):
            out["values"] = [str(v) for v in (value or [])]
        elif ctype in (5, 6, 7, 8):
            kind = {5: 6, 6: 8, 7: 9, 8: 7}[ctype]
            guild = channel.guild
            out["values"] = [
                self._resolve_into(kind, v, resolved, guild, channel, None) for v in value or []
            ]
        elif ctype == 19:
            ids = []
            for upload in value or []:
                attachment = self._store_upload(upload, channel)
                resolved.setdefault("attachments", {})[attachment["id"]] = attachment
                ids.append(attachment["id"])
            out["values"] = ids
        elif ctype == 21:
            out["value"] = value
        elif ctype == 23:
            out["value"] = bool(value)
        else:
            out["value"] = value
        return out

    def _modal_components(
        self, modal: dict, values: Mapping[str, Any], resolved: dict, channel: FakeChannel
    ) -> list[dict]:
        used: set[str] = set()
        result: list[dict] = []
        for comp in modal.get("components", []):
            if comp.get("type") == 1:
                children = [
                    s
                    for c in comp.get("components", [])
                    if (s := self._submitted(c, values, used, resolved, channel)) is not None
                ]
                if children:
                    result.append({"type": 1, "components": children})
            elif comp.get("type") == 18:
                inner = self._submitted(comp["component"], values, used, resolved, channel)
                if inner is not None:
                    label: dict[str, Any] = {"type": 18, "component": inner}
                    if comp.get("id") is not None:
                        label["id"] = comp["id"]
                    result.append(label)
            elif comp.get("type") == 10:
                item = {"type": 10}
                if comp.get("id") is not None:
                    item["id"] = comp["id"]
                result.append(item)
        unknown = set(values) - used
        if unknown:
            raise ValueError(f"modal {modal.get('custom_id')!r} has no fields {sorted(unknown)}")
        return result

    async def submit_modal(
        self,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        custom_id: str,
        values: Mapping[str, Any],
        message: Message | None = None,
        *,
        check: bool = True,
    ) -> InteractionRecord:
        """Submit the modal the bot last showed with ``custom_id``.

        ``values`` maps field custom_ids to a str (text input), a list (selects, file uploads:
        ``Upload``s) or a bool (checkbox). The submitted shape mirrors the modal's (action rows
        or label components). A modal opened from a component carries that message along.
        """
        found = self._find_modal(custom_id)
        if found is None and check:
            raise ValueError(f"the bot never showed a modal with custom_id {custom_id!r}")
        guild, fake_channel, _user, _member = self._context(guild, channel, user)
        resolved: dict[str, dict] = {}
        if found is not None:
            modal, source = found
            components = self._modal_components(modal, values, resolved, fake_channel)
            if message is None and source.payload.get("message") is not None:
                message = self.state.messages_by_id.get(int(source.payload["message"]["id"]))
        else:
            components = [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": str(v)}]}
                for k, v in values.items()
            ]
        data: dict[str, Any] = {"custom_id": custom_id, "components": components}
        if resolved:
            data["resolved"] = resolved
        stored = self._stored(message) if message is not None else None
        payload = self._interaction_payload(5, guild, fake_channel, user, data, message=stored)
        return await self._dispatch_interaction(payload)

    # -- messages -------------------------------------------------------------------
    async def send_message(
        self,
        guild: FakeGuild | None,
        channel: Any,
        user: FakeUser | FakeMember,
        content: str = "",
        *,
        reference: Message | int | None = None,
        mentions: Iterable[FakeUser | FakeMember] = (),
        mention_roles: Iterable[FakeRole] = (),
        mention_everyone: bool | None = None,
        embeds: list[dict] | None = None,
        attachments: Iterable[Upload] = (),
        check_permissions: bool = True,
    ) -> Message:
        """``user`` posts a message (MESSAGE_CREATE is dispatched). ``<@id>``/``<@&id>`` in the
        content count as mentions too."""
        guild, fake_channel, fake_user, member = self._context(guild, channel, user)
        if check_permissions and guild is not None and member is not None:
            perms = guild.permissions_for(member, fake_channel)
            need = SEND_IN_THREADS if fake_channel.is_thread else SEND_MESSAGES
            if not perms & need:
                raise ValueError(f"{member!r} may not send messages in {fake_channel!r}")
        body: dict[str, Any] = {"content": content}
        if embeds:
            body["embeds"] = embeds
        files = []
        uploads = list(attachments)
        if uploads:
            body["attachments"] = []
            for i, upload in enumerate(uploads):
                files.append(
                    {
                        "index": i,
                        "filename": upload.filename,
                        "content_type": upload.content_type,
                        "data": upload.data,
                    }
                )
                body["attachments"].append({"id": i, "filename": upload.filename})
        if reference is not None:
            body["message_reference"] = {"message_id": str(id_of(reference))}
        try:
            message = self.rest.build_message(fake_channel, body, files, author=fake_user)
        except ApiError as exc:
            raise ValueError(f"Discord would reject this message: {exc.body()}") from exc
        known = {int(m["id"]) for m in message["mentions"]}
        for mention in mentions:
            if id_of(mention) not in known:
                message["mentions"].append(self.state.users[id_of(mention)].to_dict())
        for role in mention_roles:
            if str(role.id) not in message["mention_roles"]:
                message["mention_roles"].append(str(role.id))
        if mention_everyone is not None:
            message["mention_everyone"] = mention_everyone
        await self.rest.publish(message)
        return message

    async def send_dm(self, user: FakeUser | FakeMember, content: str, **kwargs: Any) -> Message:
        """``user`` writes to the bot in their DM channel."""
        return await self.send_message(None, self.dm_channel(user), user, content, **kwargs)

    async def edit_user_message(self, message: Message, content: str) -> Message:
        stored = self._stored(message)
        return await self.rest.apply_edit(stored, {"content": content}, [])

    async def delete_user_message(self, message: Message) -> None:
        await self.rest.remove(self._stored(message))

    async def react(self, user: FakeUser | FakeMember, message: Message, emoji: str) -> None:
        """``user`` adds a reaction (MESSAGE_REACTION_ADD is dispatched)."""
        fake_user = user.user if isinstance(user, FakeMember) else user
        await self._react(self._stored(message), fake_user, emoji, True)

    async def unreact(self, user: FakeUser | FakeMember, message: Message, emoji: str) -> None:
        fake_user = user.user if isinstance(user, FakeMember) else user
        await self._react(self._stored(message), fake_user, emoji, False)

    def __repr__(self) -> str:
        return f"<DiscordDouble {self.base_url} guilds={len(self.state.guilds)} at {iso_now()}>"

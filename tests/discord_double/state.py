"""World model of the Discord double: users, guilds, roles, channels, members, messages.

Everything here is plain data.  IDs are ints in Python and strings on the wire; the
``to_dict`` methods produce the JSON shapes discord.py 2.7.1 parses.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from .driver import DiscordDouble

DISCORD_EPOCH_MS = 1420070400000

# Channel types
TEXT = 0
DM = 1
CATEGORY = 4
NEWS_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
FORUM = 15
MEDIA = 16
THREAD_TYPES = (NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
VIEW_CHANNEL = discord.Permissions(view_channel=True).value

#: What a fresh guild's @everyone role may do (roughly Discord's default).
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
    use_external_emojis=True,
    use_application_commands=True,
    change_nickname=True,
    create_instant_invite=True,
    connect=True,
    speak=True,
).value

#: Permissions of the bot's managed integration role (a typical invite scope).
DEFAULT_BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    create_private_threads=True,
    manage_threads=True,
    manage_messages=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
    use_external_emojis=True,
).value


def perm_value(value: int | discord.Permissions | None) -> int:
    if value is None:
        return 0
    if isinstance(value, discord.Permissions):
        return value.value
    return int(value)


def iso_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def snowflake_time(snowflake: int) -> str:
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC).isoformat()


class SnowflakeGenerator:
    """Monotonic, time-based snowflakes (so ``created_at`` is sensible)."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate

    @property
    def last(self) -> int:
        return self._last


def id_of(obj: Any) -> int:
    """The snowflake of a model object, Message dict, discord.py object, str or int."""
    if obj is None:
        raise ValueError("expected an object with an id, got None")
    if isinstance(obj, dict):
        return int(obj["id"])
    if isinstance(obj, (int, str)):
        return int(obj)
    return int(obj.id)


# --------------------------------------------------------------------------- users


class FakeUser:
    def __init__(
        self,
        id: int,
        username: str,
        *,
        bot: bool = False,
        global_name: str | None = None,
    ) -> None:
        self.id = id
        self.username = username
        self.bot = bot
        self.global_name = global_name
        #: When true, POST /channels/{dm}/messages answers 403 code 50007.
        self.dms_closed = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def name(self) -> str:
        return self.username

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data

    def __repr__(self) -> str:
        return f"<FakeUser id={self.id} username={self.username!r}>"


class FakeRole:
    def __init__(
        self,
        guild: FakeGuild,
        id: int,
        name: str,
        *,
        permissions: int = 0,
        position: int = 0,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        managed: bool = False,
        bot_id: int | None = None,
    ) -> None:
        self.guild = guild
        self.id = id
        self.name = name
        self.permissions = permissions
        self.position = position
        self.color = color
        self.hoist = hoist
        self.mentionable = mentionable
        self.managed = managed
        self.bot_id = bot_id

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data

    def __repr__(self) -> str:
        return f"<FakeRole id={self.id} name={self.name!r} permissions={self.permissions:#x}>"


class FakeMember:
    """A user's membership of a guild. ``.id`` is the user's id."""

    def __init__(
        self,
        guild: FakeGuild,
        user: FakeUser,
        roles: Iterable[FakeRole] = (),
        nick: str | None = None,
    ) -> None:
        self.guild = guild
        self.user = user
        self.roles: list[FakeRole] = list(roles)
        self.nick = nick
        self.joined_at = iso_now()

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def mention(self) -> str:
        return self.user.mention

    @property
    def dms_closed(self) -> bool:
        return self.user.dms_closed

    @dms_closed.setter
    def dms_closed(self, value: bool) -> None:
        self.user.dms_closed = value

    def permissions(self, channel: FakeChannel | None = None) -> int:
        return self.guild.permissions_for(self, channel)

    def to_dict(self, *, with_user: bool = True, channel: FakeChannel | None = None) -> dict:
        data: dict[str, Any] = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_dict()
        if channel is not None:
            data["permissions"] = str(self.permissions(channel))
        return data

    def __repr__(self) -> str:
        return f"<FakeMember id={self.id} username={self.username!r} guild={self.guild.name!r}>"


# ------------------------------------------------------------------------ channels


class FakeChannel:
    def __init__(
        self,
        world: World,
        id: int,
        type: int,
        name: str | None,
        *,
        guild: FakeGuild | None = None,
        parent_id: int | None = None,
        position: int = 0,
        topic: str | None = None,
        owner_id: int | None = None,
        recipient: FakeUser | None = None,
        available_tags: list[dict] | None = None,
    ) -> None:
        self._world = world
        self.id = id
        self.type = type
        self.name = name
        self.guild = guild
        self.parent_id = parent_id
        self.position = position
        self.topic = topic
        self.nsfw = False
        self.rate_limit_per_user = 0
        #: permission overwrites: list of {"id", "type" (0 role, 1 member), "allow", "deny"}
        self.overwrites: list[dict[str, Any]] = []
        # threads
        self.owner_id = owner_id
        self.archived = False
        self.locked = False
        self.auto_archive_duration = 1440
        self.archive_timestamp = iso_now()
        self.applied_tags: list[int] = []
        self.member_ids: set[int] = set()
        # forum
        self.available_tags = available_tags or []
        # DM
        self.recipient = recipient

    # -- convenience ------------------------------------------------------------
    @property
    def guild_id(self) -> int | None:
        return self.guild.id if self.guild else None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def parent(self) -> FakeChannel | None:
        return self._world.channels.get(self.parent_id) if self.parent_id else None

    @property
    def messages(self) -> list[Message]:
        """All messages stored for this channel (including ephemeral ones), oldest first."""
        return self._world.messages.setdefault(self.id, [])

    @property
    def threads(self) -> list[FakeChannel]:
        return [c for c in self._world.channels.values() if c.is_thread and c.parent_id == self.id]

    def add_overwrite(
        self,
        target: FakeRole | FakeMember | FakeUser,
        *,
        allow: int | discord.Permissions = 0,
        deny: int | discord.Permissions = 0,
    ) -> None:
        kind = 0 if isinstance(target, FakeRole) else 1
        self.overwrites = [o for o in self.overwrites if int(o["id"]) != target.id]
        self.overwrites.append(
            {"id": target.id, "type": kind, "allow": perm_value(allow), "deny": perm_value(deny)}
        )

    def add_tag(self, name: str, *, moderated: bool = False) -> int:
        tag_id = self._world.snowflake()
        self.available_tags.append(
            {
                "id": str(tag_id),
                "name": name,
                "moderated": moderated,
                "emoji_id": None,
                "emoji_name": None,
            }
        )
        return tag_id

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": str(self.id), "type": self.type, "flags": 0}
        if self.type == DM:
            data["recipients"] = [self.recipient.to_dict()] if self.recipient else []
            data["last_message_id"] = self._last_message_id()
            return data
        data.update(
            {
                "name": self.name,
                "position": self.position,
                "parent_id": str(self.parent_id) if self.parent_id else None,
                "nsfw": self.nsfw,
                "rate_limit_per_user": self.rate_limit_per_user,
            }
        )
        if self.guild is not None:
            data["guild_id"] = str(self.guild.id)
        if self.is_thread:
            data.pop("position", None)
            count = len([m for m in self.messages if not m.ephemeral])
            data.update(
                {
                    "owner_id": str(self.owner_id) if self.owner_id else None,
                    "last_message_id": self._last_message_id(),
                    "message_count": count,
                    "total_message_sent": count,
                    "member_count": len(self.member_ids),
                    "applied_tags": [str(t) for t in self.applied_tags],
                    "thread_metadata": {
                        "archived": self.archived,
                        "auto_archive_duration": self.auto_archive_duration,
                        "archive_timestamp": self.archive_timestamp,
                        "locked": self.locked,
                        "invitable": True,
                        "create_timestamp": snowflake_time(self.id),
                    },
                }
            )
            return data
        data["permission_overwrites"] = [
            {
                "id": str(o["id"]),
                "type": o["type"],
                "allow": str(o["allow"]),
                "deny": str(o["deny"]),
            }
            for o in self.overwrites
        ]
        if self.type in (TEXT, FORUM, MEDIA):
            data["topic"] = self.topic
            data["last_message_id"] = self._last_message_id()
        if self.type in (FORUM, MEDIA):
            data.update(
                {
                    "available_tags": self.available_tags,
                    "default_reaction_emoji": None,
                    "default_thread_rate_limit_per_user": 0,
                    "default_sort_order": None,
                    "default_forum_layout": 0,
                    "default_auto_archive_duration": 1440,
                }
            )
        return data

    def _last_message_id(self) -> str | None:
        visible = [m for m in self.messages if not m.ephemeral]
        return str(visible[-1].id) if visible else None

    def __repr__(self) -> str:
        return f"<FakeChannel id={self.id} type={self.type} name={self.name!r}>"


# --------------------------------------------------------------------------- guilds


class FakeGuild:
    def __init__(self, world: World, id: int, name: str, owner: FakeUser) -> None:
        self._world = world
        self.id = id
        self.name = name
        self.owner_id = owner.id
        self.roles: dict[int, FakeRole] = {}
        self.members: dict[int, FakeMember] = {}
        self.locale = "en-US"
        self.roles[id] = FakeRole(self, id, "@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS)
        self.add_member(owner)
        bot = world.bot_user
        #: The bot's managed integration role; change ``.permissions`` to restrict the bot.
        self.bot_role = self.add_role(
            bot.username, permissions=DEFAULT_BOT_PERMISSIONS, managed=True, bot_id=bot.id
        )
        self.add_member(bot, roles=[self.bot_role])

    # -- builders ---------------------------------------------------------------
    def add_role(
        self,
        name: str,
        permissions: int | discord.Permissions = 0,
        *,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        managed: bool = False,
        bot_id: int | None = None,
    ) -> FakeRole:
        role = FakeRole(
            self,
            self._world.snowflake(),
            name,
            permissions=perm_value(permissions),
            position=len(self.roles),
            color=color,
            hoist=hoist,
            mentionable=mentionable,
            managed=managed,
            bot_id=bot_id,
        )
        self.roles[role.id] = role
        return role

    def _add_channel(self, type: int, name: str, **kwargs: Any) -> FakeChannel:
        position = kwargs.pop("position", None)
        if position is None:
            position = len([c for c in self.channels if not c.is_thread])
        category = kwargs.pop("category", None)
        channel = FakeChannel(
            self._world,
            self._world.snowflake(),
            type,
            name,
            guild=self,
            position=position,
            parent_id=id_of(category) if category is not None else None,
            **kwargs,
        )
        self._world.channels[channel.id] = channel
        return channel

    def add_text_channel(
        self,
        name: str,
        *,
        topic: str | None = None,
        category: FakeChannel | None = None,
        position: int | None = None,
    ) -> FakeChannel:
        return self._add_channel(TEXT, name, topic=topic, category=category, position=position)

    def add_forum_channel(
        self,
        name: str,
        *,
        topic: str | None = None,
        tags: Iterable[str] = (),
        category: FakeChannel | None = None,
        position: int | None = None,
    ) -> FakeChannel:
        channel = self._add_channel(FORUM, name, topic=topic, category=category, position=position)
        for tag in tags:
            channel.add_tag(tag)
        return channel

    def add_category(self, name: str, *, position: int | None = None) -> FakeChannel:
        return self._add_channel(CATEGORY, name, position=position)

    def add_thread(
        self,
        parent: FakeChannel,
        name: str,
        *,
        owner: FakeUser | FakeMember | None = None,
        type: int = PUBLIC_THREAD,
        id: int | None = None,
    ) -> FakeChannel:
        """Create a thread directly in the world (no gateway event; see DiscordDouble)."""
        owner_id = owner.id if owner is not None else self._world.bot_user.id
        thread = FakeChannel(
            self._world,
            id if id is not None else self._world.snowflake(),
            type,
            name,
            guild=self,
            parent_id=parent.id,
            owner_id=owner_id,
        )
        thread.member_ids.add(owner_id)
        self._world.channels[thread.id] = thread
        return thread

    def add_member(
        self,
        user: FakeUser | str,
        roles: Iterable[FakeRole] = (),
        *,
        nick: str | None = None,
        bot: bool = False,
        global_name: str | None = None,
    ) -> FakeMember:
        if isinstance(user, str):
            user = self._world.add_user(user, bot=bot, global_name=global_name)
        existing = self.members.get(user.id)
        if existing is not None:
            for role in roles:
                if role not in existing.roles:
                    existing.roles.append(role)
            return existing
        member = FakeMember(self, user, roles, nick)
        self.members[user.id] = member
        return member

    # -- lookups ----------------------------------------------------------------
    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    @property
    def owner(self) -> FakeMember:
        return self.members[self.owner_id]

    @property
    def bot_member(self) -> FakeMember:
        return self.members[self._world.bot_user.id]

    @property
    def channels(self) -> list[FakeChannel]:
        """Channels and threads of this guild."""
        return [c for c in self._world.channels.values() if c.guild is self]

    def get_channel(self, key: int | str) -> FakeChannel | None:
        for channel in self.channels:
            if channel.id == key or channel.name == key or str(channel.id) == str(key):
                return channel
        return None

    def get_role(self, key: int | str) -> FakeRole | None:
        for role in self.roles.values():
            if role.id == key or role.name == key or str(role.id) == str(key):
                return role
        return None

    def get_member(self, key: int | str | FakeUser) -> FakeMember | None:
        if isinstance(key, FakeUser):
            key = key.id
        for member in self.members.values():
            if member.id == key or member.username == key or str(member.id) == str(key):
                return member
        return None

    # -- permissions ------------------------------------------------------------
    def permissions_for(
        self, member: FakeMember | FakeUser | int, channel: FakeChannel | None = None
    ) -> int:
        """Discord's permission algorithm: roles, administrator, owner, channel overwrites."""
        member_id = id_of(member)
        if member_id == self.owner_id:
            return ALL_PERMISSIONS
        fake = self.members.get(member_id)
        roles = fake.roles if fake is not None else []
        perms = self.everyone.permissions
        for role in roles:
            perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        source = channel.parent if channel.is_thread and channel.parent else channel
        overwrites = {int(o["id"]): o for o in source.overwrites}
        everyone = overwrites.get(self.id)
        if everyone:
            perms = (perms & ~everyone["deny"]) | everyone["allow"]
        allow = deny = 0
        for role in roles:
            ow = overwrites.get(role.id)
            if ow and ow["type"] == 0:
                allow |= ow["allow"]
                deny |= ow["deny"]
        perms = (perms & ~deny) | allow
        own = overwrites.get(member_id)
        if own and own["type"] == 1:
            perms = (perms & ~own["deny"]) | own["allow"]
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    # -- wire -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "features": [],
            "roles": [r.to_dict() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "approximate_member_count": len(self.members),
        }

    def to_gateway_dict(self, *, all_members: bool) -> dict[str, Any]:
        data = self.to_dict()
        members = (
            list(self.members.values()) if all_members else [self.bot_member]
        )  # without the GUILD_MEMBERS intent Discord sends (almost) only the bot itself
        data.update(
            {
                "unavailable": False,
                "large": False,
                "lazy": True,
                "joined_at": self.bot_member.joined_at,
                "member_count": len(self.members),
                "members": [m.to_dict() for m in members],
                "channels": [c.to_dict() for c in self.channels if not c.is_thread],
                "threads": [c.to_dict() for c in self.channels if c.is_thread and not c.archived],
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data

    def __repr__(self) -> str:
        return f"<FakeGuild id={self.id} name={self.name!r}>"


# ------------------------------------------------------------------------- messages


_USER_MENTION = re.compile(r"<@!?([0-9]{15,21})>")
_ROLE_MENTION = re.compile(r"<@&([0-9]{15,21})>")


class Message(dict):
    """A stored message: the Discord JSON dict itself, plus convenience accessors.

    Extra (non-wire) attributes: ``allowed_mentions`` (what the sender asked for),
    ``request`` (the body that created it), ``edits`` (bodies of later edits),
    ``interaction`` (the InteractionRecord that produced it, if any), ``deleted``.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.allowed_mentions: dict | None = None
        self.request: dict | None = None
        self.edits: list[dict] = []
        self.interaction: Any = None
        self.deleted = False
        self.guild_id: int | None = None
        #: emoji -> ids of users who reacted with it
        self.reactors: dict[str, list[int]] = {}
        self.pinned_at: str | None = None

    @property
    def id(self) -> int:
        return int(self["id"])

    @property
    def channel_id(self) -> int:
        return int(self["channel_id"])

    @property
    def content(self) -> str:
        return self.get("content", "")

    @property
    def embeds(self) -> list[dict]:
        return self.get("embeds", [])

    @property
    def embed(self) -> dict | None:
        embeds = self.embeds
        return embeds[0] if embeds else None

    @property
    def components(self) -> list[dict]:
        return self.get("components", [])

    @property
    def attachments(self) -> list[dict]:
        return self.get("attachments", [])

    @property
    def flags(self) -> int:
        return int(self.get("flags", 0))

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)

    @property
    def loading(self) -> bool:
        return bool(self.flags & 128)

    @property
    def author(self) -> dict:
        return self["author"]

    @property
    def author_id(self) -> int:
        return int(self["author"]["id"])

    @property
    def reference_id(self) -> int | None:
        ref = self.get("message_reference")
        return int(ref["message_id"]) if ref and ref.get("message_id") else None

    @property
    def text(self) -> str:
        """Content plus every embed's title/description/fields, for easy ``in`` checks."""
        parts = [self.content]
        for embed in self.embeds:
            parts.extend(str(embed.get(k, "")) for k in ("title", "description"))
            for field in embed.get("fields", []):
                parts.extend([str(field.get("name", "")), str(field.get("value", ""))])
            if "footer" in embed:
                parts.append(str(embed["footer"].get("text", "")))
        parts.extend(_text_displays(self.components))
        return "\n".join(p for p in parts if p)

    def iter_components(self) -> Iterator[dict]:
        """Every component (rows, buttons, selects, containers...) depth first."""
        yield from walk_components(self.components)

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.iter_components() if "custom_id" in c]

    @property
    def buttons(self) -> list[dict]:
        return [c for c in self.iter_components() if c.get("type") == 2]

    def find_component(self, custom_id: str) -> dict | None:
        for component in self.iter_components():
            if component.get("custom_id") == custom_id:
                return component
        return None

    def button(self, label: str) -> dict:
        """The button with this label (raises KeyError)."""
        for button in self.buttons:
            if button.get("label") == label:
                return button
        raise KeyError(f"no button labelled {label!r}; buttons: {self.buttons}")

    def __repr__(self) -> str:
        return (
            f"<Message id={self.get('id')} channel={self.get('channel_id')} "
            f"flags={self.flags} content={self.content[:60]!r} embeds={len(self.embeds)}>"
        )

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, dict) and dict.__eq__(self, other))


def walk_components(components: Iterable[dict]) -> Iterator[dict]:
    for component in components or []:
        yield component
        if isinstance(component.get("components"), list):
            yield from walk_components(component["components"])
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from walk_components([component[key]])


def _text_displays(components: Iterable[dict]) -> list[str]:
    return [c.get("content", "") for c in walk_components(components) if c.get("type") == 10]


def parse_mentions(content: str) -> tuple[list[int], list[int], bool]:
    users = [int(x) for x in _USER_MENTION.findall(content or "")]
    roles = [int(x) for x in _ROLE_MENTION.findall(content or "")]
    everyone = "@everyone" in (content or "") or "@here" in (content or "")
    return users, roles, everyone


# ---------------------------------------------------------------------------- world


class World:
    """All state of the double. ``DiscordDouble`` exposes it."""

    def __init__(self, double: DiscordDouble, *, bot_name: str, app_id: int | None) -> None:
        self.double = double
        self.snowflake = SnowflakeGenerator()
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        #: channel id -> messages (oldest first)
        self.messages: dict[int, list[Message]] = {}
        self.messages_by_id: dict[int, Message] = {}
        #: attachment id -> (filename, content_type, bytes)
        self.files: dict[int, tuple[str, str | None, bytes]] = {}
        #: None -> global commands; guild id -> that guild's commands
        self.commands: dict[int | None, list[dict]] = {}
        self.bot_user = FakeUser(app_id or self.snowflake(), bot_name, bot=True)
        self.users[self.bot_user.id] = self.bot_user
        self.app_owner = self.add_user("app-owner")

    @property
    def application_id(self) -> int:
        return self.bot_user.id

    def add_user(
        self, username: str, *, bot: bool = False, global_name: str | None = None
    ) -> FakeUser:
        user = FakeUser(self.snowflake(), username, bot=bot, global_name=global_name)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, owner: FakeUser | FakeMember | str | None = None) -> FakeGuild:
        if owner is None:
            owner = self.add_user(f"{name}-owner")
        elif isinstance(owner, str):
            owner = self.add_user(owner)
        elif isinstance(owner, FakeMember):
            owner = owner.user
        guild = FakeGuild(self, self.snowflake(), name, owner)
        self.guilds[guild.id] = guild
        return guild

    def dm_channel(self, user: FakeUser | FakeMember | int) -> FakeChannel:
        """The (possibly new) DM channel between the bot and ``user``."""
        uid = id_of(user)
        for channel in self.channels.values():
            if channel.type == DM and channel.recipient and channel.recipient.id == uid:
                return channel
        fake = self.users[uid]
        channel = FakeChannel(self, self.snowflake(), DM, None, recipient=fake)
        self.channels[channel.id] = channel
        return channel

    def resolve_channel(self, channel: Any) -> FakeChannel:
        """Accept a FakeChannel, an id, or a user/member (meaning the DM with them)."""
        if isinstance(channel, FakeChannel):
            return channel
        if isinstance(channel, (FakeUser, FakeMember)):
            return self.dm_channel(channel)
        cid = id_of(channel)
        try:
            return self.channels[cid]
        except KeyError:
            raise KeyError(f"unknown channel {cid}") from None

    def user_by_id(self, uid: int) -> FakeUser | None:
        return self.users.get(uid)

    def store_message(self, message: Message) -> Message:
        self.messages.setdefault(message.channel_id, []).append(message)
        self.messages_by_id[message.id] = message
        return message

    def remove_message(self, message: Message) -> None:
        message.deleted = True
        self.messages_by_id.pop(message.id, None)
        channel_messages = self.messages.get(message.channel_id, [])
        if message in channel_messages:
            channel_messages.remove(message)

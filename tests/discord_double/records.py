"""Records the double keeps for assertions: requests, captured log errors, interactions."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .state import Message

if TYPE_CHECKING:
    from .driver import DiscordDouble


@dataclasses.dataclass
class RequestRecord:
    """One HTTP request the bot made to the double (path is relative to /api/v10)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    status: int = 0
    response: Any = None
    at: float = dataclasses.field(default_factory=time.monotonic)  # when it arrived

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclasses.dataclass
class CapturedLog:
    """An ERROR (or WARNING) log record from discord.py / the bot, or an internal double error."""

    logger: str
    level: str
    message: str
    exception: str | None = None

    def __repr__(self) -> str:
        exc = f"\n{self.exception}" if self.exception else ""
        return f"<{self.level} {self.logger}: {self.message}{exc}>"


class InteractionRecord:
    """One interaction the double dispatched and everything the bot answered to it.

    * ``responses``: bodies POSTed to ``/interactions/{id}/{token}/callback`` (normally one;
      ``{"type": 4, "data": {...}}``).
    * ``original``: the @original message (created by type 4/5, or the component message for
      type 6/7), ``followups``: messages created through the webhook.
    * ``messages``: the visible results in order (original once it is not a loading message,
      the component message once updated/edited, followups).
    * ``modal``: data of a type 9 response, ``choices``: of a type 8 autocomplete response.
    * ``http_errors``: error answers the double gave the bot for this interaction.
    """

    def __init__(self, double: DiscordDouble, payload: dict[str, Any], created_at: float) -> None:
        self._double = double
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.created_at = created_at
        self.responses: list[dict[str, Any]] = []
        self.original: Message | None = None
        self.followups: list[Message] = []
        self.messages: list[Message] = []
        self.modal: dict[str, Any] | None = None
        self.choices: list[dict[str, Any]] | None = None
        self.http_errors: list[RequestRecord] = []
        self._original_edited = False

    # -- state --------------------------------------------------------------------
    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def guild_id(self) -> int | None:
        gid = self.payload.get("guild_id")
        return int(gid) if gid else None

    @property
    def data(self) -> dict[str, Any]:
        return self.payload.get("data", {})

    @property
    def source_message(self) -> Message | None:
        """The message a component/modal interaction came from (current stored version)."""
        msg = self.payload.get("message")
        if msg is None:
            return None
        return self._double.state.messages_by_id.get(int(msg["id"]))

    @property
    def response(self) -> dict[str, Any] | None:
        return self.responses[0] if self.responses else None

    @property
    def response_type(self) -> int | None:
        return self.responses[0]["type"] if self.responses else None

    @property
    def deferred(self) -> bool:
        return self.response_type in (5, 6)

    @property
    def message(self) -> Message | None:
        """The first visible result message (see ``messages``)."""
        return self.messages[0] if self.messages else None

    def _result(self) -> Message | dict:
        if self.message is not None:
            return self.message
        if self.response and isinstance(self.response.get("data"), dict):
            return self.response["data"]
        return {}

    @property
    def content(self) -> str:
        return self._result().get("content") or ""

    @property
    def embeds(self) -> list[dict]:
        return self._result().get("embeds") or []

    @property
    def embed(self) -> dict | None:
        return self.embeds[0] if self.embeds else None

    @property
    def components(self) -> list[dict]:
        return self._result().get("components") or []

    @property
    def ephemeral(self) -> bool:
        """Whether the answer is ephemeral (from the message, else from the callback flags)."""
        if self.message is not None:
            return self.message.ephemeral
        data = (self.response or {}).get("data") or {}
        return bool(int(data.get("flags", 0)) & 64)

    @property
    def allowed_mentions(self) -> dict | None:
        if self.message is not None:
            return self.message.allowed_mentions
        data = (self.response or {}).get("data") or {}
        return data.get("allowed_mentions")

    # -- waiting ------------------------------------------------------------------
    async def wait_response(self, timeout: float = 2.0) -> dict[str, Any]:
        """The first callback body ``{"type": ..., "data": ...}``."""
        return await self._double._wait_until(
            lambda: self.response, timeout, f"a response to interaction {self.describe()}"
        )

    async def wait_message(
        self, predicate: Callable[[Message], bool] | None = None, timeout: float = 2.0
    ) -> Message:
        """The first visible result message (matching ``predicate``): the original response,
        the original after a deferral was edited/followed up, an updated component message, or
        a followup."""

        def check() -> Message | None:
            for message in self.messages:
                if predicate is None or predicate(message):
                    return message
            return None

        return await self._double._wait_until(
            check, timeout, f"a visible message answering interaction {self.describe()}"
        )

    async def wait_messages(self, count: int, timeout: float = 2.0) -> list[Message]:
        await self._double._wait_until(
            lambda: len(self.messages) >= count,
            timeout,
            f"{count} messages answering interaction {self.describe()}",
        )
        return list(self.messages)

    async def wait_followup(self, index: int = 0, timeout: float = 2.0) -> Message:
        await self._double._wait_until(
            lambda: len(self.followups) > index,
            timeout,
            f"followup #{index} of interaction {self.describe()}",
        )
        return self.followups[index]

    async def wait_modal(self, timeout: float = 2.0) -> dict[str, Any]:
        return await self._double._wait_until(
            lambda: self.modal, timeout, f"a modal answering interaction {self.describe()}"
        )

    async def wait_choices(self, timeout: float = 2.0) -> list[dict[str, Any]]:
        await self._double._wait_until(
            lambda: self.choices is not None,
            timeout,
            f"autocomplete choices for interaction {self.describe()}",
        )
        return self.choices or []

    def describe(self) -> str:
        data = self.data
        what = data.get("name") or data.get("custom_id") or "?"
        return f"{self.id} (type {self.type}, {what!r})"

    def __repr__(self) -> str:
        return (
            f"<InteractionRecord {self.describe()} responses={[r['type'] for r in self.responses]}"
            f" messages={len(self.messages)} followups={len(self.followups)}>"
        )

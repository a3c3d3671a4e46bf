"""The Helix calls Greenroom needs: custom rewards, their redemptions, EventSub subscriptions.

Every call retries what is worth retrying: a 401 refreshes the user token once (and stores the
new one), a 429 waits until `Ratelimit-Reset`, a 5xx or a network failure backs off. What is
left after the retries is a `TwitchUnavailable` (try later) or a `TwitchRequestError` (don't).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.twitch.errors import TwitchAuthError, TwitchRequestError, TwitchUnavailable
from bot.twitch.oauth import TwitchOAuth
from bot.twitch.tokens import TokenStore, TwitchTokens
from ingest.connectors.base import redact

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twitch.tv/helix"
REDEMPTION_ADD = "channel.channel_points_custom_reward_redemption.add"
UNFULFILLED, FULFILLED, CANCELED = "UNFULFILLED", "FULFILLED", "CANCELED"
RETRY_DELAYS = (0.5, 1.0, 2.0)  # between attempts after a 5xx or a network failure
MAX_RATE_LIMIT_WAIT = 60.0


@dataclass(frozen=True)
class CustomReward:
    id: str
    broadcaster_id: str
    title: str
    cost: int
    prompt: str

    @classmethod
    def from_helix(cls, data: dict[str, Any]) -> CustomReward:
        return cls(
            id=data["id"],
            broadcaster_id=str(data["broadcaster_id"]),
            title=data.get("title", ""),
            cost=int(data.get("cost", 0)),
            prompt=data.get("prompt", ""),
        )


@dataclass(frozen=True)
class Redemption:
    """One redemption, from Helix or from an EventSub notification (the same fields)."""

    id: str
    broadcaster_id: str
    reward_id: str
    reward_title: str
    user_id: str
    user_login: str
    user_name: str
    user_input: str
    status: str
    redeemed_at: str

    @classmethod
    def from_helix(cls, data: dict[str, Any]) -> Redemption:
        reward = data.get("reward") or {}
        return cls(
            id=data["id"],
            broadcaster_id=str(data.get("broadcaster_id") or data.get("broadcaster_user_id")),
            reward_id=reward.get("id", ""),
            reward_title=reward.get("title", ""),
            user_id=str(data.get("user_id", "")),
            user_login=data.get("user_login", ""),
            user_name=data.get("user_name", ""),
            user_input=data.get("user_input", ""),
            status=data.get("status", UNFULFILLED),
            redeemed_at=data.get("redeemed_at", ""),
        )


class HelixClient:
    """Helix as the broadcaster (their user token), with the app's client id."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        oauth: TwitchOAuth,
        tokens: TokenStore,
        *,
        api_url: str = DEFAULT_API_URL,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.oauth = oauth
        self.tokens = tokens
        self.api_url = api_url.rstrip("/")
        self.retry_delays = tuple(retry_delays)
        self.clock = clock
        self.sleep = sleep
        self._refresh_lock = asyncio.Lock()
        self._current: TwitchTokens | None = None

    @property
    def client_id(self) -> str:
        return self.oauth.client_id

    def current_tokens(self) -> TwitchTokens:
        if self._current is None:
            self._current = self.tokens.load()
        if self._current is None:
            raise TwitchAuthError("Twitch is not linked yet: run `greenroom twitch login`")
        return self._current

    async def refresh_tokens(self, stale: TwitchTokens) -> TwitchTokens:
        """Refresh once for everyone who saw `stale` fail; the new tokens are stored at once."""
        async with self._refresh_lock:
            current = self.current_tokens()
            if current.access_token != stale.access_token:
                return current  # another request refreshed while this one waited
            log.info("refreshing the Twitch user token of %s", current.login)
            fresh = await self.oauth.refresh(current)
            await asyncio.to_thread(self.tokens.save, fresh)
            self._current = fresh
            return fresh

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        refreshed = False
        delays = iter(self.retry_delays)
        while True:
            tokens = self.current_tokens()
            secrets = [self.oauth.client_secret, *tokens.secrets()]
            headers = {
                "Client-Id": self.client_id,
                "Authorization": f"Bearer {tokens.access_token.reveal()}",
            }
            try:
                response = await self.http.request(
                    method, f"{self.api_url}/{path}", params=params, json=json, headers=headers
                )
            except httpx.HTTPError as exc:
                reason = f"network: {redact(str(exc) or type(exc).__name__, secrets)}"
                await self._back_off(method, path, reason, delays)
                continue
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                await self.refresh_tokens(tokens)
                continue
            if status == 401:
                raise TwitchAuthError(
                    "Twitch refused the refreshed login; run `greenroom twitch login` again"
                )
            if status == 429:
                await self._wait_for_rate_limit(response, method, path, delays)
                continue
            if status >= 500:
                await self._back_off(method, path, f"Twitch answered {status}", delays)
                continue
            if status >= 400:
                raise TwitchRequestError(status, self._message(response, secrets))
            return response.json() if response.content else {}

    async def _back_off(self, method: str, path: str, reason: str, delays) -> None:
        delay = next(delays, None)
        if delay is None:
            raise TwitchUnavailable(f"{method} {path} failed after retries ({reason})")
        log.warning("%s %s: %s; retrying in %.1f s", method, path, reason, delay)
        await self.sleep(delay)

    async def _wait_for_rate_limit(self, response, method: str, path: str, delays) -> None:
        if next(delays, None) is None:
            raise TwitchUnavailable(f"{method} {path} stayed rate-limited")
        try:
            reset = float(response.headers["Ratelimit-Reset"])
            wait = min(max(reset - self.clock(), 0.0), MAX_RATE_LIMIT_WAIT)
        except (KeyError, ValueError):
            wait = 1.0
        log.warning("%s %s was rate-limited; waiting %.1f s", method, path, wait)
        await self.sleep(wait)

    @staticmethod
    def _message(response: httpx.Response, secrets) -> str:
        try:
            text = str(response.json().get("message") or response.reason_phrase)
        except ValueError:
            text = response.text[:200]
        return redact(text, secrets)

    # --- the calls --------------------------------------------------------------------------

    async def create_custom_reward(
        self,
        broadcaster_id: str,
        title: str,
        cost: int,
        *,
        prompt: str | None = None,
        user_input_required: bool = True,
        max_per_user_per_stream: int | None = None,
        global_cooldown_seconds: int | None = None,
    ) -> CustomReward:
        body: dict[str, Any] = {
            "title": title,
            "cost": cost,
            "is_user_input_required": user_input_required,
            # Mods decide in Discord: the redemption must wait UNFULFILLED for them.
            "should_redemptions_skip_request_queue": False,
        }
        if prompt:
            body["prompt"] = prompt
        if max_per_user_per_stream:
            body["is_max_per_user_per_stream_enabled"] = True
            body["max_per_user_per_stream"] = max_per_user_per_stream
        if global_cooldown_seconds:
            body["is_global_cooldown_enabled"] = True
            body["global_cooldown_seconds"] = global_cooldown_seconds
        result = await self.request(
            "POST",
            "channel_points/custom_rewards",
            params={"broadcaster_id": broadcaster_id},
            json=body,
        )
        return CustomReward.from_helix(result["data"][0])

    async def redemptions(
        self, broadcaster_id: str, reward_id: str, status: str = UNFULFILLED
    ) -> list[Redemption]:
        """Every redemption of the reward in that status (all pages, oldest first)."""
        found: list[Redemption] = []
        cursor: str | None = None
        while True:
            params = {
                "broadcaster_id": broadcaster_id,
                "reward_id": reward_id,
                "status": status,
                "sort": "OLDEST",
                "first": "50",
            }
            if cursor:
                params["after"] = cursor
            result = await self.request(
                "GET", "channel_points/custom_rewards/redemptions", params=params
            )
            found += [Redemption.from_helix(item) for item in result.get("data", [])]
            cursor = (result.get("pagination") or {}).get("cursor")
            if not cursor:
                return found

    async def update_redemption_status(
        self, broadcaster_id: str, reward_id: str, redemption_id: str, status: str
    ) -> Redemption:
        """FULFILLED or CANCELED (which refunds the points); only UNFULFILLED ones change,
        anything else is a 404 from Twitch (a `TwitchRequestError`)."""
        if status not in (FULFILLED, CANCELED):
            raise ValueError(f"a redemption can only become FULFILLED or CANCELED, not {status}")
        result = await self.request(
            "PATCH",
            "channel_points/custom_rewards/redemptions",
            params={
                "id": redemption_id,
                "broadcaster_id": broadcaster_id,
                "reward_id": reward_id,
            },
            json={"status": status},
        )
        return Redemption.from_helix(result["data"][0])

    async def subscribe_redemptions(self, session_id: str, broadcaster_id: str, reward_id: str):
        """An EventSub subscription over the WebSocket session; returns its id."""
        result = await self.request(
            "POST",
            "eventsub/subscriptions",
            json={
                "type": REDEMPTION_ADD,
                "version": "1",
                "condition": {"broadcaster_user_id": broadcaster_id, "reward_id": reward_id},
                "transport": {"method": "websocket", "session_id": session_id},
            },
        )
        return result["data"][0]["id"]

"""The Helix calls Greenroom needs (custom rewards, their redemptions), made by twitchAPI's
`Twitch` client behind a thin retry and error-classification layer of ours.

twitchAPI 4.5.0 does the HTTP: the URLs (pointed at `api_url`/`auth_url`, so tests use a local
double), the Client-Id and Authorization headers, paging, and one user-token refresh on a 401,
whose new pair it hands to `user_auth_refresh_callback`, which stores it in the 0600 token file.

`HelixClient.call` wraps every library call, for what the library leaves undone:
- a 429: it sleeps until `Ratelimit-Reset` (however long), then parses the 429 body as data, so
  the call fails with a KeyError (or, for a listing, reads an empty page); 502 and 504 bodies
  are parsed as data in the same way; a 500 is not retried and a 503 only once, at once.
  So KeyError and TypeError from a call, `TwitchBackendException`, network errors and timeouts
  are retried here with back-off (`retry_delays`), each attempt bounded by `call_timeout`
  (which also cuts short a rate-limit sleep), then raised as `TwitchUnavailable`.
- a refresh that fails leaves the library's refresh flag set, and every later 401 would wait
  on it forever: after any auth failure the `Twitch` object is dropped, and the next call builds
  a fresh one from the token file (so a new `greenroom twitch login` heals a running bot).
- library exceptions name no status: they become `TwitchRequestError` (don't retry) or
  `TwitchAuthError` (log in again), their text redacted of every token we know.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from twitchAPI.helper import TWITCH_API_BASE_URL, TWITCH_AUTH_BASE_URL
from twitchAPI.oauth import validate_token
from twitchAPI.twitch import Twitch
from twitchAPI.type import (
    AuthScope,
    CustomRewardRedemptionStatus,
    InvalidRefreshTokenException,
    InvalidTokenException,
    TwitchAPIException,
    TwitchAuthorizationException,
    TwitchBackendException,
    TwitchResourceNotFound,
)

from bot.twitch.errors import TwitchAuthError, TwitchRequestError, TwitchUnavailable
from bot.twitch.tokens import TokenStore, TwitchTokens
from ingest.connectors.base import Secret, redact

log = logging.getLogger(__name__)

DEFAULT_API_URL = TWITCH_API_BASE_URL
DEFAULT_AUTH_URL = TWITCH_AUTH_BASE_URL
REDEMPTION_ADD = "channel.channel_points_custom_reward_redemption.add"
UNFULFILLED, FULFILLED, CANCELED = "UNFULFILLED", "FULFILLED", "CANCELED"
RETRY_DELAYS = (0.5, 1.0, 2.0)  # between attempts after a 5xx, a 429 or a network failure
CALL_TIMEOUT = 30.0  # one attempt, including a rate-limit sleep inside the library
# Read redemptions (EventSub), and create rewards and update redemptions (Helix).
SCOPES = ("channel:read:redemptions", "channel:manage:redemptions")
RELOGIN = "run `greenroom twitch login` again"

T = TypeVar("T")

# What a library call raises when Twitch (or the way there) failed in a way that may pass.
RETRYABLE = (
    TwitchBackendException,
    aiohttp.ClientError,
    TimeoutError,
    KeyError,  # an error body (429, 502, 504) parsed as data
    TypeError,
    ValueError,  # a body that is not JSON
)
AUTH_FAILURES = (TwitchAuthorizationException, InvalidTokenException)


def base_url(url: str) -> str:
    """twitchAPI joins paths onto its base URLs by concatenation: they must end in a slash."""
    return url.rstrip("/") + "/"


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value or "")


@dataclass(frozen=True)
class CustomReward:
    id: str
    broadcaster_id: str
    title: str
    cost: int
    prompt: str

    @classmethod
    def from_library(cls, reward: Any) -> CustomReward:
        return cls(
            id=reward.id,
            broadcaster_id=str(reward.broadcaster_id),
            title=reward.title or "",
            cost=int(reward.cost or 0),
            prompt=getattr(reward, "prompt", None) or "",
        )


@dataclass(frozen=True)
class Redemption:
    """One redemption, from Helix or from an EventSub notification."""

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
    def from_library(cls, data: Any) -> Redemption:
        """From twitchAPI's `CustomRewardRedemption` (Helix) or the `event` of its EventSub
        `ChannelPointsCustomRewardRedemptionAddEvent` (which has `broadcaster_user_id`)."""
        reward = getattr(data, "reward", None)
        status = getattr(data, "status", None)
        user_name = getattr(data, "user_name", None) or ""
        return cls(
            id=data.id,
            broadcaster_id=str(
                getattr(data, "broadcaster_id", None) or getattr(data, "broadcaster_user_id", "")
            ),
            reward_id=getattr(reward, "id", "") or "",
            reward_title=getattr(reward, "title", "") or "",
            user_id=str(getattr(data, "user_id", "") or ""),
            # The library's Helix redemption object drops `user_login`; the display name,
            # lower-cased, stands in (it is only used to match autocomplete text).
            user_login=getattr(data, "user_login", None) or user_name.lower(),
            user_name=user_name,
            user_input=getattr(data, "user_input", None) or "",
            # EventSub says "unfulfilled", Helix "UNFULFILLED".
            status=str(getattr(status, "value", status) or UNFULFILLED).upper(),
            redeemed_at=_iso(getattr(data, "redeemed_at", None)),
        )


class HelixClient:
    """Helix as the broadcaster (their stored user token), with the app's client id."""

    def __init__(
        self,
        client_id: str,
        client_secret: Secret | None,
        tokens: TokenStore,
        *,
        api_url: str = DEFAULT_API_URL,
        auth_url: str = DEFAULT_AUTH_URL,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        call_timeout: float = CALL_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens = tokens
        self.api_url = base_url(api_url)
        self.auth_url = base_url(auth_url)
        self.retry_delays = tuple(retry_delays)
        self.call_timeout = call_timeout
        self.sleep = sleep
        self._twitch: Twitch | None = None
        self._building = asyncio.Lock()
        self._current: TwitchTokens | None = None
        self._save_lock = threading.Lock()  # the refresh callback may run on EventSub's thread

    # --- tokens -----------------------------------------------------------------------------

    def current_tokens(self) -> TwitchTokens:
        if self._current is None:
            self._current = self.tokens.load()
        if self._current is None:
            raise TwitchAuthError("Twitch is not linked yet: run `greenroom twitch login`")
        return self._current

    def secrets(self) -> list[Secret | None]:
        """Everything that must never reach a log line or an error message."""
        known = [self.client_secret]
        if self._current is not None:
            known += self._current.secrets()
        twitch = self._twitch
        if twitch is not None and twitch.get_user_auth_token():  # what the library holds now
            known.append(Secret(twitch.get_user_auth_token()))
        return known

    async def _stored_refresh(self, access_token: str, refresh_token: str) -> None:
        """twitchAPI's `user_auth_refresh_callback`: keep the new pair, so a restart needs no
        login. It runs on whichever loop made the call (EventSub's thread too)."""
        fresh = self.current_tokens().refreshed(access_token, refresh_token, None)
        self._current = fresh
        log.info("refreshed the Twitch user token of %s", fresh.login)
        await asyncio.to_thread(self._save, fresh)

    def _save(self, tokens: TwitchTokens) -> None:
        with self._save_lock:
            self.tokens.save(tokens)

    async def twitch(self) -> Twitch:
        """The library's client, logged in as the broadcaster (built once, and again after an
        auth failure). Validating the stored token refreshes it when it has expired."""
        if self._twitch is not None:
            return self._twitch
        async with self._building:
            if self._twitch is not None:
                return self._twitch
            tokens = self.current_tokens()
            twitch = Twitch(
                self.client_id,
                self.client_secret.reveal() if self.client_secret else None,
                authenticate_app=False,  # every call here acts as the broadcaster
                base_url=self.api_url,
                auth_base_url=self.auth_url,
                session_timeout=aiohttp.ClientTimeout(total=self.call_timeout),
            )
            twitch.user_auth_refresh_callback = self._stored_refresh
            scopes = [AuthScope(s) for s in tokens.scopes if s in _SCOPE_VALUES]
            await self.attempt(
                "log in",
                lambda: twitch.set_user_authentication(
                    tokens.access_token.reveal(), scopes, tokens.refresh_token.reveal()
                ),
            )
            self._twitch = twitch
            return twitch

    def forget(self) -> None:
        """Drop the library client (its refresh state may be stuck): the next call rebuilds it
        from the token file."""
        self._twitch = None
        self._current = None

    # --- the wrapper around every library call ----------------------------------------------

    async def call(self, what: str, make: Callable[[Twitch], Awaitable[T]]) -> T:
        """Run `make(twitch)` with our retries; see the module docstring for what is retried."""
        delays = iter(self.retry_delays)
        while True:
            try:
                return await self.attempt(what, self._with_twitch(make))
            except TwitchUnavailable as exc:
                delay = next(delays, None)
                if delay is None:
                    raise TwitchUnavailable(f"{what} failed after retries ({exc})") from None
                log.warning("%s: %s; retrying in %.1f s", what, exc, delay)
                await self.sleep(delay)

    def _with_twitch(self, make: Callable[[Twitch], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        async def with_twitch() -> T:
            return await make(await self.twitch())

        return with_twitch

    async def attempt(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """One attempt, its failure as one of our errors (text redacted)."""
        try:
            async with asyncio.timeout(self.call_timeout):
                return await make()
        except TwitchAuthError:
            raise
        except AUTH_FAILURES as exc:
            self.forget()
            raise TwitchAuthError(
                f"Twitch refused the login ({self._text(exc) or type(exc).__name__}); {RELOGIN}"
            ) from None
        except InvalidRefreshTokenException:
            self.forget()
            raise TwitchAuthError(f"the Twitch login expired or was revoked; {RELOGIN}") from None
        except TwitchResourceNotFound as exc:
            raise TwitchRequestError(404, self._text(exc) or "not found") from None
        except TwitchBackendException as exc:
            raise TwitchUnavailable(f"Twitch answered 5xx: {self._text(exc)}") from None
        except TwitchAPIException as exc:
            text = self._text(exc)
            # The library raises 400 as "Bad Request - ..." and, for these calls, 403 with a
            # text of its own; neither carries the status.
            raise TwitchRequestError(400 if text.startswith("Bad Request") else 403, text) from None
        except TimeoutError:
            raise TwitchUnavailable(f"no answer within {self.call_timeout:.0f} s") from None
        except aiohttp.ClientError as exc:
            reason = self._text(exc) or type(exc).__name__
            raise TwitchUnavailable(f"network: {reason}") from None
        except RETRYABLE as exc:
            # KeyError/TypeError/ValueError: the library read an error body as data.
            raise TwitchUnavailable(
                f"Twitch answered with an error ({type(exc).__name__} reading its body)"
            ) from None

    def _text(self, exc: BaseException) -> str:
        return redact(str(exc), self.secrets())[:300]

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
        reward = await self.call(
            "create the reward",
            lambda twitch: twitch.create_custom_reward(
                broadcaster_id,
                title,
                cost,
                prompt=prompt or None,
                is_user_input_required=user_input_required,
                is_max_per_user_per_stream_enabled=bool(max_per_user_per_stream),
                max_per_user_per_stream=max_per_user_per_stream or None,
                is_global_cooldown_enabled=bool(global_cooldown_seconds),
                global_cooldown_seconds=global_cooldown_seconds or None,
                # Mods decide in Discord: the redemption must wait UNFULFILLED for them.
                should_redemptions_skip_request_queue=False,
            ),
        )
        if reward is None:  # an answer without data
            raise TwitchUnavailable("Twitch did not return the new reward")
        return CustomReward.from_library(reward)

    async def redemptions(
        self, broadcaster_id: str, reward_id: str, status: str = UNFULFILLED
    ) -> list[Redemption]:
        """Every redemption of the reward in that status (all pages, oldest first). The library
        reads a 429/502/504 page as an empty last page, so a listing can come back short without
        an error: the catch-up that uses it runs again on every maintenance round."""

        async def listing(twitch: Twitch) -> list[Redemption]:
            pages = twitch.get_custom_reward_redemption(
                broadcaster_id, reward_id, status=CustomRewardRedemptionStatus(status), first=50
            )
            return [Redemption.from_library(item) async for item in pages]

        return await self.call("list the redemptions", listing)

    async def update_redemption_status(
        self, broadcaster_id: str, reward_id: str, redemption_id: str, status: str
    ) -> Redemption:
        """FULFILLED or CANCELED (which refunds the points); only UNFULFILLED ones change,
        anything else is a 404 from Twitch (a `TwitchRequestError`)."""
        if status not in (FULFILLED, CANCELED):
            raise ValueError(f"a redemption can only become FULFILLED or CANCELED, not {status}")
        done = await self.call(
            f"set redemption {redemption_id} {status}",
            lambda twitch: twitch.update_redemption_status(
                broadcaster_id, reward_id, redemption_id, CustomRewardRedemptionStatus(status)
            ),
        )
        if done is None:
            raise TwitchUnavailable("Twitch did not return the redemption")
        return Redemption.from_library(done)


async def validate(access_token: Secret, auth_url: str, timeout: float = CALL_TIMEOUT):
    """What Twitch says about the token (`user_id`, `login`, `scopes` as strings,
    `expires_in`), or None when it is not valid (any more); twitchAPI's `validate_token`."""
    try:
        async with asyncio.timeout(timeout):
            info = await validate_token(access_token.reveal(), auth_base_url=base_url(auth_url))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = redact(str(exc), [access_token]) or type(exc).__name__
        raise TwitchUnavailable(f"could not reach Twitch's login service ({reason})") from None
    if info.get("status", 200) == 401:
        return None
    if "user_id" not in info:
        raise TwitchUnavailable(f"Twitch could not check the login ({info.get('status')})")
    info["scopes"] = [getattr(s, "value", s) for s in info.get("scopes") or ()]
    return info


_SCOPE_VALUES = {s.value for s in AuthScope}

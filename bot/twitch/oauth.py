"""Twitch OAuth (id.twitch.tv): the device-code login, token refresh and validation.

Tokens travel only in request bodies and headers, never in URLs, so request logs stay clean;
error text from Twitch is redacted before it is raised, in case it echoes what it was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bot.twitch.errors import TwitchAuthError, TwitchError, TwitchUnavailable
from bot.twitch.tokens import TwitchTokens
from ingest.connectors.base import Secret, redact

DEFAULT_AUTH_URL = "https://id.twitch.tv/oauth2"
# Read redemptions (EventSub), and create rewards and update redemptions (Helix).
SCOPES = ("channel:read:redemptions", "channel:manage:redemptions")


@dataclass(frozen=True)
class DeviceCode:
    device_code: Secret
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float


@dataclass(frozen=True)
class TokenInfo:
    """What /validate says about an access token."""

    user_id: str
    login: str
    client_id: str
    scopes: tuple[str, ...]
    expires_in: float | None


class TwitchOAuth:
    def __init__(
        self,
        http: httpx.AsyncClient,
        client_id: str,
        client_secret: Secret | None,
        *,
        auth_url: str = DEFAULT_AUTH_URL,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_url = auth_url.rstrip("/")
        self.clock = clock
        self.sleep = sleep

    def _secrets(self, *more: Secret | None) -> list[Secret | None]:
        return [self.client_secret, *more]

    async def _post(self, path: str, data: dict[str, str], secrets: list[Secret | None]):
        try:
            return await self.http.post(f"{self.auth_url}/{path}", data=data)
        except httpx.HTTPError as exc:
            raise TwitchUnavailable(
                f"could not reach Twitch's login service: {redact(str(exc), secrets)}"
            ) from None

    def _message(self, response: httpx.Response, secrets: list[Secret | None]) -> str:
        try:
            body = response.json()
            text = str(body.get("message") or body.get("error") or body)
        except ValueError:
            text = response.text[:200]
        return redact(text, secrets)

    async def start_device_login(self, scopes: tuple[str, ...] = SCOPES) -> DeviceCode:
        response = await self._post(
            "device", {"client_id": self.client_id, "scopes": " ".join(scopes)}, self._secrets()
        )
        if response.status_code != 200:
            raise TwitchError(
                f"Twitch refused the login ({response.status_code}):"
                f" {self._message(response, self._secrets())}"
            )
        body = response.json()
        return DeviceCode(
            device_code=Secret(body["device_code"]),
            user_code=body["user_code"],
            verification_uri=body["verification_uri"],
            expires_in=float(body.get("expires_in", 1800)),
            interval=float(body.get("interval", 5)),
        )

    async def finish_device_login(
        self, code: DeviceCode, scopes: tuple[str, ...] = SCOPES
    ) -> TwitchTokens:
        """Poll until the broadcaster approves in the browser (or the code expires)."""
        deadline = self.clock() + code.expires_in
        interval = code.interval
        data = {
            "client_id": self.client_id,
            "scopes": " ".join(scopes),
            "device_code": code.device_code.reveal(),
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        }
        if self.client_secret is not None:
            data["client_secret"] = self.client_secret.reveal()
        secrets = self._secrets(code.device_code)
        while True:
            response = await self._post("token", data, secrets)
            if response.status_code == 200:
                return await self._tokens_from(response.json())
            message = self._message(response, secrets)
            if message == "authorization_pending":
                pass
            elif message == "slow_down":
                interval += 5
            else:
                raise TwitchAuthError(f"the Twitch login did not complete: {message}")
            if self.clock() + interval > deadline:
                raise TwitchAuthError("the Twitch login code expired before it was approved")
            await self.sleep(interval)

    async def refresh(self, tokens: TwitchTokens) -> TwitchTokens:
        data = {
            "client_id": self.client_id,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token.reveal(),
        }
        if self.client_secret is not None:
            data["client_secret"] = self.client_secret.reveal()
        secrets = self._secrets(*tokens.secrets())
        response = await self._post("token", data, secrets)
        if response.status_code in (400, 401, 403):
            raise TwitchAuthError(
                "the Twitch login expired or was revoked"
                f" ({self._message(response, secrets)}); run `greenroom twitch login` again"
            )
        if response.status_code != 200:
            raise TwitchUnavailable(f"Twitch could not refresh the login ({response.status_code})")
        body = response.json()
        return tokens.refreshed(
            body["access_token"], body.get("refresh_token"), self._expires_at(body)
        )

    async def validate(self, access_token: Secret) -> TokenInfo | None:
        """The token's owner and scopes, or None when Twitch says it is not valid (any more)."""
        try:
            response = await self.http.get(
                f"{self.auth_url}/validate",
                headers={"Authorization": f"OAuth {access_token.reveal()}"},
            )
        except httpx.HTTPError as exc:
            raise TwitchUnavailable(
                f"could not reach Twitch's login service: {redact(str(exc), [access_token])}"
            ) from None
        if response.status_code == 401:
            return None
        if response.status_code != 200:
            raise TwitchUnavailable(f"Twitch could not check the login ({response.status_code})")
        body = response.json()
        return TokenInfo(
            user_id=str(body["user_id"]),
            login=str(body.get("login", "")),
            client_id=str(body.get("client_id", "")),
            scopes=tuple(body.get("scopes") or ()),
            expires_in=body.get("expires_in"),
        )

    def _expires_at(self, body: dict) -> float | None:
        expires_in = body.get("expires_in")
        return self.clock() + float(expires_in) if expires_in else None

    async def _tokens_from(self, body: dict) -> TwitchTokens:
        access = Secret(body["access_token"])
        info = await self.validate(access)
        if info is None:
            raise TwitchAuthError("Twitch gave a token it does not accept; log in again")
        return TwitchTokens(
            access_token=access,
            refresh_token=Secret(body["refresh_token"]),
            user_id=info.user_id,
            login=info.login,
            client_id=self.client_id,
            scopes=tuple(body.get("scope") or info.scopes),
            expires_at=self._expires_at(body),
        )

"""`greenroom twitch login`: twitchAPI's `CodeFlow` (Twitch's device-code flow), pointed at
`auth_url`, then the new token's owner and scopes from twitchAPI's `validate_token`.

What the library leaves undone, handled here: `CodeFlow.get_code` reads the answer without
looking at its status (a refusal is a KeyError, made a `TwitchAuthError` here);
`wait_for_auth_complete` polls every second until the code expires (a builtin TimeoutError,
made a `TwitchAuthError`), whatever Twitch answers meanwhile, and ignores `slow_down`.
Nothing here logs or prints a token; error text is redacted before it is raised.
"""

from __future__ import annotations

import aiohttp
from twitchAPI.oauth import CodeFlow
from twitchAPI.twitch import Twitch
from twitchAPI.type import AuthScope

from bot.twitch.errors import TwitchAuthError, TwitchUnavailable
from bot.twitch.helix import DEFAULT_AUTH_URL, SCOPES, base_url, validate
from bot.twitch.tokens import TwitchTokens
from ingest.connectors.base import Secret


class DeviceLogin:
    """One login: `start()` gives the code and the URL to open, `finish()` waits for the
    broadcaster to approve it and returns their tokens (not stored yet)."""

    def __init__(
        self,
        client_id: str,
        client_secret: Secret | None,
        *,
        auth_url: str = DEFAULT_AUTH_URL,
        scopes: tuple[str, ...] = SCOPES,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_url = base_url(auth_url)
        self.scopes = scopes
        twitch = Twitch(client_id, authenticate_app=False, auth_base_url=self.auth_url)
        self._flow = CodeFlow(twitch, [AuthScope(s) for s in scopes], auth_base_url=self.auth_url)

    async def start(self) -> tuple[str, str]:
        """(the code to enter, the URL to open)."""
        try:
            return await self._flow.get_code()
        except (KeyError, TypeError, ValueError):
            raise TwitchAuthError(
                "Twitch refused to start the login: check GREENROOM_TWITCH_CLIENT_ID"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TwitchUnavailable(f"could not reach Twitch's login service ({exc})") from None

    async def finish(self) -> TwitchTokens:
        try:
            access, refresh = await self._flow.wait_for_auth_complete()
        except TimeoutError:
            raise TwitchAuthError("the Twitch login code expired before it was approved") from None
        except (aiohttp.ClientError, KeyError, ValueError) as exc:
            raise TwitchUnavailable(
                f"the Twitch login did not complete ({type(exc).__name__})"
            ) from None
        info = await validate(Secret(access), self.auth_url)
        if info is None:
            raise TwitchAuthError("Twitch gave a token it does not accept; log in again")
        return TwitchTokens(
            access_token=Secret(access),
            refresh_token=Secret(refresh),
            user_id=str(info["user_id"]),
            login=str(info.get("login", "")),
            client_id=self.client_id,
            scopes=tuple(info.get("scopes") or self.scopes),
        )

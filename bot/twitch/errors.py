"""What can go wrong talking to Twitch, as exceptions whose messages carry no token."""

from __future__ import annotations


class TwitchError(Exception):
    """Any Twitch failure; the message is safe to show and to log (tokens are redacted)."""


class TwitchAuthError(TwitchError):
    """No login, or the login expired or was revoked: `greenroom twitch login` again."""


class TwitchUnavailable(TwitchError):
    """Twitch did not answer usefully (network, 5xx, rate limit) after the retries: try later."""


class TwitchRequestError(TwitchError):
    """Twitch refused the request (4xx other than a recoverable 401 or 429)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Twitch answered {status}: {message}")
        self.status = status
        self.message = message

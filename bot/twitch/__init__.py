"""Twitch: tokens, the Helix API (custom rewards, redemptions) and the EventSub WebSocket.

No module here imports discord: the Discord side lives in bot/exts/twitch/.
The HTTP and WebSocket code is our own (httpx and aiohttp), not twitchAPI or TwitchIO: see
the README's Twitch section for why.
"""

from bot.twitch.errors import TwitchAuthError, TwitchError, TwitchRequestError, TwitchUnavailable
from bot.twitch.tokens import TokenStore, TwitchTokens

__all__ = [
    "TokenStore",
    "TwitchAuthError",
    "TwitchError",
    "TwitchRequestError",
    "TwitchTokens",
    "TwitchUnavailable",
]

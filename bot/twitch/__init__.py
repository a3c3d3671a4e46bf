"""Twitch: tokens, the Helix API (custom rewards, redemptions) and the EventSub WebSocket.

No module here imports discord: the Discord side lives in bot/exts/twitch/.
The HTTP, OAuth and WebSocket work is twitchAPI's (4.5.0, its base URLs pointed where the
settings say); helix.py, oauth.py and eventsub.py wrap it where it falls short (retries and
error classes, the device-code login's refusals, EventSub's thread and handlers): see their
docstrings and the README's Twitch section.
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

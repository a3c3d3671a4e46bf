"""The broadcaster's Twitch user tokens, kept in the data directory so a restart needs no login.

The file is JSON with mode 0600, written to a temporary file (created 0600) and renamed over
the old one, so a crash never leaves half a token file. In memory the tokens are `Secret`s:
they never show in reprs, f-strings or log lines.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.connectors.base import Secret

log = logging.getLogger(__name__)

FILE_MODE = 0o600


@dataclass(frozen=True)
class TwitchTokens:
    access_token: Secret
    refresh_token: Secret
    user_id: str  # the broadcaster the tokens act for
    login: str
    client_id: str  # the app that got them: Twitch only refreshes them for that app
    scopes: tuple[str, ...] = ()
    expires_at: float | None = None  # unix time, when Twitch said
    saved_at: float = field(default=0.0, compare=False)

    def secrets(self) -> tuple[Secret, Secret]:
        return self.access_token, self.refresh_token

    def refreshed(
        self, access_token: str, refresh_token: str | None, expires_at: float | None
    ) -> TwitchTokens:
        return replace(
            self,
            access_token=Secret(access_token),
            refresh_token=Secret(refresh_token) if refresh_token else self.refresh_token,
            expires_at=expires_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token.reveal(),
            "refresh_token": self.refresh_token.reveal(),
            "user_id": self.user_id,
            "login": self.login,
            "client_id": self.client_id,
            "scopes": list(self.scopes),
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TwitchTokens:
        return cls(
            access_token=Secret(data["access_token"]),
            refresh_token=Secret(data["refresh_token"]),
            user_id=str(data["user_id"]),
            login=str(data.get("login", "")),
            client_id=str(data.get("client_id", "")),
            scopes=tuple(data.get("scopes") or ()),
            expires_at=data.get("expires_at"),
        )


class TokenStore:
    """One token file (the data directory's `twitch_tokens.json`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> TwitchTokens | None:
        """The stored tokens, or None before the first login. A file others can read is made
        private again (with a warning): it holds the keys to the channel's points."""
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return None
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); made it 0600", self.path, mode)
            os.chmod(self.path, FILE_MODE)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return TwitchTokens.from_json(data)
        except (ValueError, KeyError, TypeError) as exc:
            # Never echo the content: it may be a token.
            raise ValueError(
                f"{self.path} is not a Twitch token file ({type(exc).__name__});"
                " run `greenroom twitch login` again"
            ) from None

    def save(self, tokens: TwitchTokens) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is masked by the umask; this is not
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(tokens.to_json(), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def clear(self) -> bool:
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False

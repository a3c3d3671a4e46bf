"""The one kind of error a person can act on: a message, a hint, and a member it may name.

Discord-free, and in the lowest layer so that ingest/, knowledge/ and bot/ can all raise it.
The bot renders it in bot/errors.py (a named member becomes a mention, a moment a Discord
timestamp), the command line in bot/cli.py (as plain text); nothing else turns one into words.
"""

from __future__ import annotations

from collections.abc import Callable


def user_as_text(user_id: int) -> str:
    return f"user {user_id}"


class UserFacingError(Exception):
    """`message` is shown as it is; `hint` (optional) says what to do next; `user_id`
    (optional) is a member the message names and `at` (optional, unix time) a moment it names,
    both written by whoever renders it."""

    at: float | None = None

    def __init__(self, message: str = "", *, hint: str = "", user_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.user_id = user_id

    def sentence(self, user: str | None, moment: str | None = None) -> str:
        """The message; an error that names a member builds it around `user`, one that names a
        moment around `moment` (plain text of its own when None)."""
        return self.message

    def describe(
        self,
        name_user: Callable[[int], str] = user_as_text,
        name_moment: Callable[[float], str] | None = None,
    ) -> str:
        """The text to show, with the named member written by `name_user` and the named moment
        by `name_moment` (the error's own plain text when None)."""
        user = None if self.user_id is None else name_user(self.user_id)
        moment = None if self.at is None or name_moment is None else name_moment(self.at)
        text = self.sentence(user, moment)
        return f"{text} {self.hint}" if self.hint else text

    def __str__(self) -> str:
        return self.describe()

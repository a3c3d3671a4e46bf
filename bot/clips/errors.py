"""Every clip failure is a `ClipError` whose str() is a sentence fit to show the user as is.

The cog catches `ClipError` in one place and replies with `str(error)`; the attributes let it
render richer replies (mentions, relative times) without parsing the message.
"""

from __future__ import annotations

from http import HTTPStatus

from bot.clips.states import ACTIONS, STATES, ClipStatus, ReviewAction
from ingest.errors import UserFacingError


class ClipError(UserFacingError):
    """A clip problem the user can understand; `str()` is the message to show them."""


def format_size(n_bytes: int) -> str:
    """Sizes the way Discord shows them: binary megabytes labelled MB."""
    if n_bytes >= 1024 * 1024:
        mb = n_bytes / (1024 * 1024)
        return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:.0f} KB"
    return f"{n_bytes} bytes"


def format_seconds(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 10 else f"{seconds:.0f} s"


# --- downloads -------------------------------------------------------------------------------


class DownloadError(ClipError):
    """The clip could not be fetched from its link."""


class InvalidClipURL(DownloadError):
    def __init__(self, url: str) -> None:
        super().__init__("That is not a valid http(s) link to a video file.")
        self.url = url


class BlockedHost(DownloadError):
    """The link points at a private or local address (the bot must not fetch its own network)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"Links to private or local addresses ({host}) are not allowed.")
        self.host = host


class ClipTooLarge(DownloadError):
    def __init__(self, max_bytes: int, size_bytes: int | None = None) -> None:
        limit = format_size(max_bytes)
        if size_bytes is None:  # found out while streaming: the real size is unknown
            message = f"That file is larger than {limit}; clips can be at most {limit}."
        else:
            message = f"That file is {format_size(size_bytes)}; clips can be at most {limit}."
        super().__init__(message)
        self.max_bytes = max_bytes
        self.size_bytes = size_bytes


class DownloadHTTPError(DownloadError):
    def __init__(self, status_code: int) -> None:
        try:
            phrase = HTTPStatus(status_code).phrase
        except ValueError:
            phrase = "Error"
        label = f"{status_code} {phrase}"
        if status_code in (403, 404, 410):
            hint = "it may have expired. Upload the file again."
        elif status_code in (401, 407):
            hint = "the file is not publicly downloadable. Upload the file instead."
        elif status_code == 429:
            hint = "the host is rate-limiting us. Try again in a minute."
        elif status_code >= 500:
            hint = "the host had a problem. Try again later or upload the file."
        else:
            hint = "check the link or upload the file instead."
        super().__init__(f"The link returned {label}: {hint}")
        self.status_code = status_code


class DownloadTimeout(DownloadError):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"The download timed out after {format_seconds(timeout_s)}.")
        self.timeout_s = timeout_s


class TooManyRedirects(DownloadError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The link redirected more than {limit} times; use a direct link.")
        self.limit = limit


class DownloadConnectionError(DownloadError):
    def __init__(self, host: str) -> None:
        super().__init__(f"The connection to {host} failed. Check the link or upload the file.")
        self.host = host


class NotAVideo(DownloadError):
    def __init__(self, content_type: str | None) -> None:
        what = content_type or "of an unknown type"
        super().__init__(f"That link is not a video (it is {what}).")
        self.content_type = content_type


# --- media -----------------------------------------------------------------------------------


class UnreadableVideo(ClipError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("That file could not be read as a video.")
        self.detail = detail  # the decoder's words, for logs only


class NoVideoTrack(UnreadableVideo):
    def __init__(self) -> None:
        super().__init__()
        self.message = "That file has no video track (is it audio only?)."


class InvalidTerm(ClipError):
    def __init__(self, max_length: int) -> None:
        super().__init__(
            f"A term needs at least one letter or digit and at most {max_length} characters."
        )


# --- review ----------------------------------------------------------------------------------


class ReviewError(ClipError):
    """A review action that the rules refuse; nothing was changed."""


class ClipNotFound(ReviewError):
    def __init__(self, clip_id: int) -> None:
        super().__init__(f"There is no clip #{clip_id} in this server.")
        self.clip_id = clip_id


class IllegalTransition(ReviewError):
    def __init__(self, clip_id: int, status: str, action: str, message: str) -> None:
        super().__init__(message)
        self.clip_id = clip_id
        self.status = status
        self.action = action


class AlreadyDecided(ReviewError):
    """Another mod decided first; `actor_id`, `action` and `at` say who, what and when."""

    def __init__(
        self,
        clip_id: int,
        status: str,
        actor_id: int | None,
        action: str | None,
        at: float | None,
        now: float,
    ) -> None:
        self.clip_id = clip_id
        self.status = status
        self.actor_id = actor_id
        self.action = action
        self.at = at
        self.seconds_ago = None if at is None else max(0.0, now - at)
        super().__init__(self.sentence(None), user_id=actor_id)

    def sentence(self, user: str | None, moment: str | None = None) -> str:
        done = ACTIONS[ReviewAction(self.action)].done if self.action in ACTIONS else ""
        verb = done or STATES[ClipStatus(self.status)].label
        message = f"Clip #{self.clip_id} was already {verb}"
        if user is not None:
            message += f" by {user}"
        if moment is not None:
            message += f" {moment}"
        elif self.seconds_ago is not None:
            message += f" {_ago(self.seconds_ago)}"
        return message + "."


def _ago(seconds: float) -> str:
    """Plain text for the command line and logs; Discord gets a relative timestamp instead."""
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


class ReasonRequired(ReviewError):
    def __init__(self, action: str) -> None:
        what = (ACTIONS[ReviewAction(action)].reason if action in ACTIONS else "") or "This action"
        super().__init__(f"{what} needs a reason; say what is wrong so the creator can fix it.")
        self.action = action


class SelfApproval(ReviewError):
    def __init__(self, clip_id: int) -> None:
        super().__init__(f"You can't approve your own clip (#{clip_id}); another mod has to.")
        self.clip_id = clip_id


class DuplicateApproval(ReviewError):
    def __init__(self, clip_id: int, remaining: int) -> None:
        more = "approval" if remaining == 1 else "approvals"
        super().__init__(
            f"You already approved clip #{clip_id}; it needs {remaining} more {more} "
            "from other mods."
        )
        self.clip_id = clip_id
        self.remaining = remaining


class ChecklistContradiction(ReviewError):
    def __init__(self, failed: list[str]) -> None:
        items = ", ".join(failed)
        super().__init__(
            f"You marked {items} as failing; reject the clip or request changes instead."
        )
        self.failed = failed


class InvalidDraft(ReviewError):
    """A submission missing something it needs (a title)."""


class NotSubmitter(ReviewError):
    def __init__(self, clip_id: int) -> None:
        super().__init__(f"Only the person who submitted clip #{clip_id} can resubmit it.")
        self.clip_id = clip_id

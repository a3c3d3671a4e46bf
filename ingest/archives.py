"""Reading members of a zip (a Notion export, a .docx) without letting a zip bomb fill memory.

The sizes a zip's directory states can lie, so they are checked first (a cheap refusal before
anything is inflated) and the bytes actually inflated are counted again while reading.
"""

from __future__ import annotations

import zipfile
import zlib
from typing import IO

RATIO_FLOOR = 1_000_000  # below this many bytes any ratio is harmless
DEFAULT_MAX_RATIO = 100.0  # inflated / packed; real documents stay far below it
_CHUNK = 64 * 1024


class ZipMemberError(Exception):
    """One member could not be read safely; `name` is the member's name in the archive."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class ZipBomb(ZipMemberError):
    """A member inflates past the allowed ratio: the archive as a whole is not to be trusted."""

    def __init__(self, name: str, max_ratio: float) -> None:
        super().__init__(name, f"{name} unpacks to more than {max_ratio:g} times its packed size")
        self.max_ratio = max_ratio


class MemberTooLarge(ZipMemberError):
    """A member inflates past the number of bytes the caller allowed it."""

    def __init__(self, name: str, cap: int) -> None:
        super().__init__(name, f"{name} is larger than {cap:,} bytes.")
        self.cap = cap


class UnreadableMember(ZipMemberError):
    """An encrypted or damaged member."""


def inflates_too_much(size: int, packed: int, max_ratio: float = DEFAULT_MAX_RATIO) -> bool:
    """Whether `size` inflated bytes from `packed` bytes is a zip bomb's ratio."""
    return size > RATIO_FLOOR and size > max_ratio * max(packed, 1)


def copy_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    sink: IO[bytes],
    *,
    cap: int,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> int:
    """Inflate one member into `sink`, refusing it as soon as the stated or the real size passes
    `cap` or the bomb ratio (checked before any byte is inflated, then chunk by chunk);
    returns the number of bytes written."""
    if info.flag_bits & 0x1:
        raise UnreadableMember(info.filename, f"{info.filename} is encrypted.")
    if inflates_too_much(info.file_size, info.compress_size, max_ratio):
        raise ZipBomb(info.filename, max_ratio)
    if info.file_size > cap:
        raise MemberTooLarge(info.filename, cap)
    total = 0
    try:
        with zf.open(info) as member:
            while chunk := member.read(_CHUNK):
                total += len(chunk)
                if inflates_too_much(total, info.compress_size, max_ratio):
                    raise ZipBomb(info.filename, max_ratio)
                if total > cap:
                    raise MemberTooLarge(info.filename, cap)
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        message = f"{info.filename} could not be unpacked ({exc})."
        raise UnreadableMember(info.filename, message) from exc
    return total

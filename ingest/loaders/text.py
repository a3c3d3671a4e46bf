"""Decoding bytes to text, with binary and encoding problems reported in plain words."""

from __future__ import annotations

import codecs


class UnreadableFile(Exception):
    """A file that cannot be turned into text; the message is shown to the user."""


_CONTROL = set(range(0, 9)) | {11, 12} | set(range(14, 32))


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or many control characters, in the first 8 KiB mean a binary file."""
    head = data[:8192]
    if not head:
        return False
    if b"\0" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    controls = sum(1 for b in head if b in _CONTROL)
    return controls / len(head) > 0.05


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16; anything else is refused, not guessed."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Notepad's "Unicode" has CRLF too: normalise, or front matter (visibility!) goes unseen.
        return data.decode("utf-16").replace("\r\n", "\n").replace("\r", "\n")
    if looks_binary(data):
        raise UnreadableFile("is a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start});"
            " save it as UTF-8 and ingest again"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")

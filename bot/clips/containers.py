"""Which video containers clips may come in, told from their first bytes, and opened safely.

Only MP4/MOV and WebM/MKV are accepted: that is what AI video tools produce, and naming the
demuxer stops FFmpeg from guessing one. A guessed HLS or concat "video" could make FFmpeg read
other local files or fetch URLs; only plain files are allowed as input protocol as well.
"""

from __future__ import annotations

from pathlib import Path

import av

from bot.clips.errors import UnreadableVideo

HEAD_BYTES = 64  # enough for the ftyp box and the EBML header's DocType
_DEMUXER = {"mp4": "mov", "mov": "mov", "webm": "matroska", "mkv": "matroska"}


def sniff_container(head: bytes) -> str | None:
    """The container named by a file's first bytes: mp4/mov (`ftyp` box) or webm/mkv (EBML)."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:HEAD_BYTES] else "mkv"
    box = head[4:8]
    if box == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if box in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # old QuickTime files
        return "mov"
    return None


def open_video(path: Path | str) -> av.container.InputContainer:
    """av.open for a clip file, refusing anything that is not MP4/MOV/WebM/MKV by its bytes."""
    with open(path, "rb") as f:
        container = sniff_container(f.read(HEAD_BYTES))
    if container is None:
        raise UnreadableVideo("not an MP4, MOV, WebM or MKV file")
    try:
        return av.open(
            str(path), format=_DEMUXER[container], options={"protocol_whitelist": "file"}
        )
    except av.FFmpegError as exc:
        raise UnreadableVideo(str(exc)) from exc

"""A perceptual fingerprint of a clip, so a re-encoded or resized copy is still recognised.

Five frames at fixed fractions of the duration each get a 64-bit pHash (the signs of the
low-frequency DCT of a 32x32 grey thumbnail against their median). Codecs, bitrates and
resolutions change pixels, but not the coarse light/dark layout the hash encodes.
Blocking: call `fingerprint_video` with `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import av
import numpy as np
from PIL import Image

from bot.clips.containers import open_video
from bot.clips.errors import NoVideoTrack, UnreadableVideo
from bot.clips.probe import video_duration_s

DEFAULT_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
HASH_BITS = 64
# Mean differing bits per frame at or below which two clips count as the same clip. Re-encodes
# land at 0-6, unrelated clips around 32 (chance), so 10 leaves room on both sides.
NEAR_DUPLICATE_THRESHOLD = 10.0

_THUMB = 32  # pHash works on a 32x32 thumbnail ...
_LOW = 8  # ... and keeps its 8x8 lowest frequencies


def fingerprint_video(
    path: Path | str, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> list[int]:
    """One 64-bit hash per sampled frame; raises `UnreadableVideo` if the file won't decode."""
    try:
        with open_video(path) as container:
            if not container.streams.video:
                raise NoVideoTrack()
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames = _frames_at(container, stream, fractions)
    except av.FFmpegError as exc:
        raise UnreadableVideo(str(exc)) from exc
    if not frames:
        raise UnreadableVideo("no decodable frame")
    return [phash(frame) for frame in frames]


def phash(image: Image.Image) -> int:
    """The 64-bit perceptual hash of one picture."""
    grey = image.convert("L").resize((_THUMB, _THUMB), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    dct = _dct_matrix()
    low = (dct @ pixels @ dct.T)[:_LOW, :_LOW].flatten()
    median = np.median(low[1:])  # the DC term is overall brightness: leave it out of the median
    bits = low > median
    return int("".join("1" if b else "0" for b in bits), 2)


def fingerprint_distance(a: Sequence[int], b: Sequence[int]) -> float:
    """Mean Hamming distance of the paired frame hashes (0 = same, ~32 = unrelated, 64 = max)."""
    pairs = list(zip(a, b, strict=False))
    if not pairs:
        return float(HASH_BITS)
    return sum((x ^ y).bit_count() for x, y in pairs) / len(pairs)


def is_near_duplicate(
    a: Sequence[int], b: Sequence[int], threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> bool:
    return fingerprint_distance(a, b) <= threshold


@cache
def _dct_matrix() -> np.ndarray:
    """The orthonormal DCT-II matrix, so a 2-D DCT is two matrix products (no scipy needed)."""
    n = _THUMB
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    matrix[0, :] = np.sqrt(1 / n)
    return matrix


def _frames_at(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    fractions: Sequence[float],
) -> list[Image.Image]:
    """The first frame at or after each fraction of the duration (the last frame if past it)."""
    time_base = stream.time_base
    start = float(stream.start_time * time_base) if stream.start_time and time_base else 0.0
    duration = video_duration_s(container, stream)
    images: list[Image.Image] = []
    for fraction in fractions:
        target = start + duration * fraction
        if time_base:
            try:
                container.seek(int(target / time_base), stream=stream, backward=True)
            except av.FFmpegError:
                container.seek(0)
        chosen = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= target - 1e-3:
                break
        if chosen is not None:
            images.append(chosen.to_image())
    return images

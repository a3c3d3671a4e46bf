"""What a clip file is (length, size on screen, codec, audio), read with PyAV.

Blocking: call `probe_video` with `asyncio.to_thread`. Width and height are what a viewer sees:
a phone video stored as 1920x1080 with a 90 degree rotation flag is reported as 1080x1920.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from bot.clips.containers import open_video
from bot.clips.errors import NoVideoTrack, UnreadableVideo

_NAMED_RATIOS = {
    "16:9": 16 / 9,
    "9:16": 9 / 16,
    "1:1": 1.0,
    "4:3": 4 / 3,
    "3:4": 3 / 4,
    "4:5": 4 / 5,
    "3:2": 3 / 2,
    "2:3": 2 / 3,
    "21:9": 64 / 27,  # "21:9" cinema screens are really 64:27
}
_RATIO_TOLERANCE = 0.02  # relative: 1366x768 is still "16:9"


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    width: int  # as displayed
    height: int
    aspect_ratio: str  # "16:9", "9:16", "1:1", ... or "1.85:1"
    codec: str  # the decoder's name: "h264", "hevc", "vp9", "av1", ...
    fps: float
    has_audio: bool

    @property
    def short_side(self) -> int:
        """720 for 1280x720 and for 720x1280: what people mean by "720p"."""
        return min(self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoInfo:
        return cls(
            duration_s=float(data["duration_s"]),
            width=int(data["width"]),
            height=int(data["height"]),
            aspect_ratio=str(data["aspect_ratio"]),
            codec=str(data["codec"]),
            fps=float(data["fps"]),
            has_audio=bool(data["has_audio"]),
        )


def aspect_ratio_label(width: int, height: int) -> str:
    """A common name ("16:9") when the ratio is within 2% of one, else "w:h" or "1.85:1"."""
    if width <= 0 or height <= 0:
        return "unknown"
    ratio = width / height
    for name, target in _NAMED_RATIOS.items():
        if abs(ratio - target) / target <= _RATIO_TOLERANCE:
            return name
    g = math.gcd(width, height)
    w, h = width // g, height // g
    if w <= 32 and h <= 32:
        return f"{w}:{h}"
    return f"{ratio:.2f}:1" if ratio >= 1 else f"1:{1 / ratio:.2f}"


def probe_video(path: Path | str) -> VideoInfo:
    """Read a clip's properties; raises `UnreadableVideo` (or `NoVideoTrack`) if it isn't one."""
    try:
        with open_video(path) as container:
            if not container.streams.video:
                raise NoVideoTrack()
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise UnreadableVideo("no decodable frame")
            width, height = _display_size(stream, first)
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            return VideoInfo(
                duration_s=round(video_duration_s(container, stream), 3),
                width=width,
                height=height,
                aspect_ratio=aspect_ratio_label(width, height),
                codec=stream.codec_context.name,
                fps=round(fps, 3),
                has_audio=bool(container.streams.audio),
            )
    except av.FFmpegError as exc:
        raise UnreadableVideo(str(exc)) from exc


def _display_size(stream: av.video.stream.VideoStream, frame: av.VideoFrame) -> tuple[int, int]:
    width, height = frame.width or stream.width, frame.height or stream.height
    sar = stream.sample_aspect_ratio
    if sar and sar > 0 and sar != 1:  # anamorphic: pixels are not square
        width = round(width * Fraction(sar))
    if abs(round(frame.rotation or 0)) % 180 == 90:
        width, height = height, width
    return int(width), int(height)


def video_duration_s(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float:
    """The video track's length; the container's (which may include longer audio) as fallback."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    fps = stream.average_rate or stream.guessed_rate
    if stream.frames and fps:
        return float(stream.frames / fps)
    return 0.0

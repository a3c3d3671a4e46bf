"""Small synthetic clips made with PyAV at test time, so no binary fixtures are committed."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def scene_frame(scene: int, t: float, width: int, height: int) -> np.ndarray:
    """An RGB picture of `scene` at time `t`, drawn in relative coordinates (any resolution)."""
    y, x = np.mgrid[0:height, 0:width]
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    rgb = np.zeros((height, width, 3), dtype=np.float64)
    if scene == 0:  # diagonal gradient, a bright disc moving right, a dark box moving down
        base = 0.25 + 0.5 * (u + v) / 2
        rgb[...] = base[..., None] * np.array([1.0, 0.8, 0.6])
        cx, cy = 0.15 + 0.7 * t / 2, 0.35
        disc = (u - cx) ** 2 + ((v - cy) * height / width) ** 2 < 0.12**2
        rgb[disc] = (1.0, 1.0, 0.9)
        by = 0.1 + 0.6 * t / 2
        box = (abs(u - 0.7) < 0.12) & (abs(v - by) < 0.15)
        rgb[box] = (0.05, 0.05, 0.2)
    else:  # vertical bands, a box orbiting the centre
        base = 0.5 + 0.4 * np.sin(2 * math.pi * (3 * u + 0.2 * t))
        rgb[...] = base[..., None] * np.array([0.4, 0.9, 1.0])
        angle = math.pi * t
        cx, cy = 0.5 + 0.3 * math.cos(angle), 0.5 + 0.3 * math.sin(angle)
        box = (abs(u - cx) < 0.1) & (abs(v - cy) < 0.18)
        rgb[box] = (0.9, 0.1, 0.1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def write_clip(
    path: Path,
    *,
    scene: int = 0,
    width: int = 160,
    height: int = 90,
    seconds: float = 2.0,
    fps: int = 12,
    codec: str = "libx264",
    bit_rate: int | None = None,
    audio: bool = False,
    rotation: int = 0,
) -> Path:
    """Encode a clip of `scene`; the container follows the file extension (.mp4, .webm, .mkv)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        if "vpx" in codec:  # libvpx's default "good" deadline takes ~1 s even for 2 s at 320x180
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        if rotation:
            stream.set_display_rotation(rotation)
        audio_stream = None
        if audio:
            audio_codec = "libopus" if path.suffix == ".webm" else "aac"
            audio_stream = container.add_stream(audio_codec, rate=48000)
        n_frames = round(seconds * fps)
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(
                scene_frame(scene, i / fps, width, height), format="rgb24"
            )
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            _write_tone(container, audio_stream, seconds)
    return path


def _write_tone(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    rate, size = 48000, 960
    total = int(rate * seconds)
    t = np.arange(total) / rate
    samples = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
    for start in range(0, total, size):
        chunk = samples[start : start + size]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))

"""probe_video on clips made with PyAV, and aspect ratio names."""

from __future__ import annotations

import pytest

from bot.clips import (
    ClipError,
    NoVideoTrack,
    UnreadableVideo,
    VideoInfo,
    fingerprint_video,
    probe_video,
)
from bot.clips.probe import aspect_ratio_label
from tests.clips.conftest import Media
from tests.clips.media_factory import write_clip


def test_probe_reads_length_size_codec_and_audio(media: Media) -> None:
    info = probe_video(media.original)
    assert info == VideoInfo(
        duration_s=2.0,
        width=160,
        height=90,
        aspect_ratio="16:9",
        codec="h264",
        fps=12.0,
        has_audio=False,
    )
    webm = probe_video(media.reencoded_webm)
    assert (webm.codec, webm.width, webm.height, webm.has_audio) == ("vp9", 320, 180, True)
    assert webm.duration_s == pytest.approx(2.0, abs=0.1)
    assert VideoInfo.from_dict(webm.to_dict()) == webm


def test_rotation_flag_gives_the_displayed_shape(media: Media) -> None:
    info = probe_video(media.rotated_with_audio)
    assert (info.width, info.height, info.aspect_ratio) == (90, 160, "9:16")
    assert info.has_audio
    assert info.short_side == 90


def test_unreadable_files_raise_a_readable_error(media: Media, tmp_path) -> None:
    with pytest.raises(UnreadableVideo) as caught:
        probe_video(media.not_a_video)
    assert isinstance(caught.value, ClipError)
    assert str(caught.value) == "That file could not be read as a video."
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(media.original.read_bytes()[:200])
    with pytest.raises(UnreadableVideo):
        probe_video(truncated)


@pytest.mark.parametrize(
    "text",
    [
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\nfile:///etc/passwd\n",
        "ffconcat version 1.0\nfile /etc/hostname\n",
    ],
)
def test_playlists_posing_as_videos_are_never_demuxed(tmp_path, text: str) -> None:
    """FFmpeg would follow these to other files or URLs if it were left to guess the format."""
    path = tmp_path / "clip.mp4"
    path.write_text(text)
    with pytest.raises(UnreadableVideo) as caught:
        probe_video(path)
    assert caught.value.detail == "not an MP4, MOV, WebM or MKV file"
    with pytest.raises(UnreadableVideo):
        fingerprint_video(path)


def test_audio_only_file_has_no_video_track(tmp_path) -> None:
    import av
    import numpy as np

    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(NoVideoTrack, match="no video track"):
        probe_video(path)


@pytest.mark.parametrize(
    ("width", "height", "label"),
    [
        (1920, 1080, "16:9"),
        (1366, 768, "16:9"),
        (1080, 1920, "9:16"),
        (1080, 1080, "1:1"),
        (1440, 1080, "4:3"),
        (1080, 1350, "4:5"),
        (2560, 1080, "21:9"),
        (2048, 858, "21:9"),
        (1000, 800, "5:4"),
        (1998, 1080, "1.85:1"),
        (2208, 800, "2.76:1"),
        (800, 2208, "1:2.76"),
        (0, 10, "unknown"),
    ],
)
def test_aspect_ratio_labels(width: int, height: int, label: str) -> None:
    assert aspect_ratio_label(width, height) == label


def test_tiny_vertical_clip(tmp_path) -> None:
    path = write_clip(tmp_path / "vertical.mp4", width=90, height=160, seconds=0.5)
    info = probe_video(path)
    assert (info.aspect_ratio, info.duration_s) == ("9:16", 0.5)

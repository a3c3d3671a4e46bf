"""Perceptual fingerprints: re-encodes match, different clips don't."""

from __future__ import annotations

import pytest
from PIL import Image

from bot.clips import (
    NEAR_DUPLICATE_THRESHOLD,
    UnreadableVideo,
    fingerprint_distance,
    fingerprint_video,
    is_near_duplicate,
)
from bot.clips.fingerprint import phash
from tests.clips.conftest import Media
from tests.clips.media_factory import scene_frame


@pytest.fixture(scope="module")
def prints(media: Media) -> dict[str, list[int]]:
    return {
        "original": fingerprint_video(media.original),
        "webm": fingerprint_video(media.reencoded_webm),
        "small": fingerprint_video(media.reencoded_small),
        "different": fingerprint_video(media.different),
    }


def test_fingerprint_is_five_64_bit_hashes_and_deterministic(media: Media, prints) -> None:
    assert len(prints["original"]) == 5
    assert all(0 <= h < 2**64 for h in prints["original"])
    assert fingerprint_video(media.original) == prints["original"]


@pytest.mark.parametrize("copy", ["webm", "small"])
def test_reencoded_copy_is_a_near_duplicate(prints, copy: str) -> None:
    distance = fingerprint_distance(prints["original"], prints[copy])
    assert distance <= NEAR_DUPLICATE_THRESHOLD - 2, distance  # with some margin
    assert is_near_duplicate(prints["original"], prints[copy])


def test_different_clip_is_not_a_near_duplicate(prints) -> None:
    for name in ("original", "webm", "small"):
        distance = fingerprint_distance(prints[name], prints["different"])
        assert distance >= NEAR_DUPLICATE_THRESHOLD + 8, (name, distance)
        assert not is_near_duplicate(prints[name], prints["different"])


def test_distance_edge_cases() -> None:
    assert fingerprint_distance([0b1011], [0b0001]) == 2
    assert fingerprint_distance([0, 2**64 - 1], [0, 0]) == 32
    assert fingerprint_distance([], [1]) == 64


def test_phash_ignores_scale_and_mild_noise() -> None:
    big = Image.fromarray(scene_frame(0, 1.0, 640, 360))
    small = big.resize((80, 45))
    assert (phash(big) ^ phash(small)).bit_count() <= 4
    other = Image.fromarray(scene_frame(1, 1.0, 640, 360))
    assert (phash(big) ^ phash(other)).bit_count() >= 16


def test_unreadable_file(media: Media) -> None:
    with pytest.raises(UnreadableVideo):
        fingerprint_video(media.not_a_video)

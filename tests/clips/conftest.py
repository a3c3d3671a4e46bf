"""Fixtures for the clip green room: a real SQLite database per test, media made with PyAV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.clips import ClipDraft, GuildTermStore, ReviewQueue
from bot.storage import Database
from tests.clips.http_fixture import ClipServer, serve_clips
from tests.clips.media_factory import write_clip

GUILD = 1001
OTHER_GUILD = 2002
SUBMITTER = 11
MOD_A = 21
MOD_B = 22
MOD_C = 23
STREAMER = 31


class FakeClock:
    """A clock tests move by hand, so "4 s ago" and median waits are exact."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


@pytest.fixture
async def queue(db: Database, clock: FakeClock) -> ReviewQueue:
    return await ReviewQueue.open(db, clock=clock)


@pytest.fixture
async def terms(db: Database, clock: FakeClock) -> GuildTermStore:
    return await GuildTermStore.open(db, clock=clock)


def draft(title: str = "Neon raid alert", **changes: object) -> ClipDraft:
    fields: dict[str, object] = {"prompt": "a neon city at night", "tool": "Sora", "use": "alert"}
    fields.update(changes)
    return ClipDraft(title=title, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Media:
    """Synthetic clips: `original` and its re-encodes show scene 0, `different` scene 1."""

    original: Path  # h264 mp4 160x90, 12 fps
    reencoded_webm: Path  # vp9 webm 320x180, 15 fps, low bitrate, with audio
    reencoded_small: Path  # mpeg4 mp4 96x54, 10 fps, very low bitrate
    different: Path  # h264 mp4 160x90, other picture
    rotated_with_audio: Path  # stored 160x90 with a 90 degree display rotation, aac audio
    not_a_video: Path  # text with an .mp4 name


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    folder = tmp_path_factory.mktemp("media")
    not_video = folder / "notes.mp4"
    not_video.write_text("these are not the frames you are looking for\n" * 20)
    return Media(
        original=write_clip(folder / "original.mp4"),
        reencoded_webm=write_clip(
            folder / "reencoded.webm",
            width=320,
            height=180,
            fps=15,
            codec="libvpx-vp9",
            bit_rate=60_000,
            audio=True,
        ),
        reencoded_small=write_clip(
            folder / "small.mp4", width=96, height=54, fps=10, codec="mpeg4", bit_rate=30_000
        ),
        different=write_clip(folder / "different.mp4", scene=1),
        rotated_with_audio=write_clip(folder / "rotated.mp4", rotation=90, audio=True),
        not_a_video=not_video,
    )


@pytest.fixture(scope="session")
def clip_server(media: Media) -> Iterator[ClipServer]:
    with serve_clips(media.original.read_bytes(), media.reencoded_webm.read_bytes()) as server:
        yield server

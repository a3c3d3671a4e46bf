"""Live sync: a watched folder is re-synced within two polls, scheduled sources when due
(the loops run on a ManualClock, round by round)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ingest.connectors.spec import SourceSpec
from knowledge.base import Library
from knowledge.live_sync import LiveSync
from knowledge.source_syncer import SourceSyncer
from tests.ingest.connectors.conftest import serve  # noqa: F401 - the local server fixture
from tests.knowledge.live_clock import ManualClock, finished_syncs
from tests.knowledge.sources_fixture import Site, page

KB = "guild-1"


@pytest.fixture
async def syncer(library: Library) -> AsyncIterator[SourceSyncer]:
    s = SourceSyncer(library, httpx.AsyncClient(trust_env=False))
    yield s
    await s.aclose()


async def test_a_watched_folder_is_resynced_within_two_polls(syncer, library, tmp_path: Path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "gear.md").write_text("# Gear\n\nThe camera is a Sony ZV-E10.\n", encoding="utf-8")
    record, _ = await syncer.add(KB, SourceSpec("folder", str(notes)))
    kb = library.open(KB)
    clock = ManualClock(time.time())
    live = LiveSync(syncer, poll_seconds=2.0, clock=clock, sleep=clock.sleep)
    watcher = asyncio.create_task(live.watch_folders())

    def has(word: str) -> bool:
        return any(word in c.chunk.text for c in kb.search(word, k=3))

    async def poll() -> None:
        await clock.advance(live.poll_seconds)

    try:
        await clock.sleeping()  # the first poll takes the folder's fingerprint
        await poll()  # it held still: synced (nothing changed)
        (notes / "gear.md").write_text(
            "# Gear\n\nThe camera is a Sony ZV-E10 with a Sigma 16mm lens.\n", encoding="utf-8"
        )
        await poll()  # a change is seen; the editor may still be saving
        assert not await asyncio.to_thread(has, "Sigma")
        await poll()  # it held still for a poll: synced
        assert await asyncio.to_thread(has, "Sigma")
        (notes / "lights.md").write_text("# Lights\n\nTwo Elgato Key Lights.\n", "utf-8")
        await poll()
        await poll()
        assert await asyncio.to_thread(has, "Elgato")
        (notes / "lights.md").unlink()
        await poll()
        await poll()
        assert len(kb.catalog.documents(record.source_name)) == 1
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def test_an_unwatched_folder_is_left_alone(syncer, library, tmp_path: Path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nOne.\n", encoding="utf-8")
    await syncer.add(KB, SourceSpec("folder", str(notes), {"watch": False}))
    live = LiveSync(syncer)
    assert await live.check_folders() == [] and await live.check_folders() == []


async def test_scheduled_sources_sync_when_due(serve, syncer, library) -> None:  # noqa: F811
    site = Site({"/gear": page("Gear", "The microphone is a Shure SM7B.")})
    base = await serve(site.app())
    record, _ = await syncer.add(KB, SourceSpec("web_page", f"{base}/gear", {}, 30))
    on_demand, _ = await syncer.add(KB, SourceSpec("web_page", f"{base}/other"), sync=False)
    now = [time.time()]
    live = LiveSync(syncer, clock=lambda: now[0])

    assert await live.run_due() == []  # synced just now: not due for 30 minutes
    now[0] += 29 * 60
    assert await live.run_due() == []
    now[0] += 2 * 60
    [outcome] = await live.run_due()
    assert outcome.key == record.key and outcome.report.unchanged == 1
    assert site.page_requests("/other") == []  # no schedule: only synced on demand

    # The loop itself: a source never synced is due at once, then every 60 minutes.
    site.pages["/new"] = page("New", "A new page about the stream deck.")
    fresh, _ = await syncer.add(KB, SourceSpec("web_page", f"{base}/new", {}, 60), sync=False)
    clock = ManualClock(time.time())  # syncs record the wall-clock time they ran at
    synced = finished_syncs(syncer)
    runner = asyncio.create_task(
        LiveSync(syncer, tick_seconds=30, clock=clock, sleep=clock.sleep).run_schedule()
    )
    try:
        first = await synced.next()
        assert first.key == fresh.key and first.report.added == 1
        kb = library.open(KB)
        assert kb.sources.get(on_demand.key).last_synced_at is None
        await clock.advance(30)
        await clock.advance(30 * 60)  # the first source's 30 minutes are up (tick by tick)
        again = await synced.next()
        assert again.key == record.key and again.report.unchanged == 1
        assert synced.empty()  # the new page is not due for another half hour
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

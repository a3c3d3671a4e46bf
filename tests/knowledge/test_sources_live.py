"""Live sync: a watched folder is re-synced within seconds, scheduled sources when due."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ingest.connectors.spec import SourceSpec
from knowledge.base import Library
from knowledge.source_sync import LiveSync, SourceSyncer
from tests.ingest.connectors.conftest import serve  # noqa: F401 - the local server fixture
from tests.knowledge.sources_fixture import Site, page

KB = "guild-1"


@pytest.fixture
async def syncer(library: Library) -> AsyncIterator[SourceSyncer]:
    s = SourceSyncer(library, httpx.AsyncClient(trust_env=False))
    yield s
    await s.aclose()


async def wait_for(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not await asyncio.to_thread(condition):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_watched_folder_is_resynced_within_seconds(syncer, library, tmp_path: Path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "gear.md").write_text("# Gear\n\nThe camera is a Sony ZV-E10.\n", encoding="utf-8")
    record, _ = await syncer.add(KB, SourceSpec("folder", str(notes)))
    kb = library.open(KB)
    live = LiveSync(syncer, poll_seconds=0.2)
    watcher = asyncio.create_task(live.watch_folders())
    try:
        await asyncio.sleep(0.6)  # the first polls take the folder's fingerprint

        def has(word: str):
            return lambda: any(word in c.chunk.text for c in kb.search(word, k=3))

        (notes / "gear.md").write_text(
            "# Gear\n\nThe camera is a Sony ZV-E10 with a Sigma 16mm lens.\n", encoding="utf-8"
        )
        took = await wait_for(has("Sigma"), 10, "re-syncing the changed note")
        assert took < 10  # typically under a second (two 0.2 s polls and a sync)
        (notes / "lights.md").write_text("# Lights\n\nTwo Elgato Key Lights.\n", "utf-8")
        await wait_for(has("Elgato"), 10, "indexing the new note")
        (notes / "lights.md").unlink()
        await wait_for(
            lambda: len(kb.catalog.documents(record.source_name)) == 1, 10, "removing the note"
        )
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

    # The loop itself: a source never synced is due at once.
    site.pages["/new"] = page("New", "A new page about the stream deck.")
    fresh, _ = await syncer.add(KB, SourceSpec("web_page", f"{base}/new", {}, 60), sync=False)
    runner = asyncio.create_task(LiveSync(syncer, tick_seconds=0.1).run_schedule())
    try:
        kb = library.open(KB)
        await wait_for(lambda: kb.sources.get(fresh.key).last_synced_at, 10, "the scheduled sync")
        assert kb.sources.get(fresh.key).last_result.added == 1
        assert kb.sources.get(on_demand.key).last_synced_at is None
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

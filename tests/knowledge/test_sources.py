"""The source registry and remote sync: add/list/remove, unchanged, updated, deleted, failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ingest.connectors.base import Fetched, SourceFailed, Unchanged
from ingest.connectors.spec import SourceSpec, SourceSpecError
from ingest.documents import Document, LoadFailure
from ingest.plan import plan_sync
from knowledge.base import KnowledgeError, Library
from knowledge.source_registry import FAILED, OK, PARTIAL
from knowledge.source_syncer import SourceSyncer
from tests.ingest.connectors.conftest import serve  # noqa: F401 - the local server fixture
from tests.knowledge.sources_fixture import Site, page

KB = "guild-1"


def doc(doc_id: str, text: str) -> Document:
    return Document(doc_id=doc_id, title=doc_id, text=text, source="s")


# -- the plan ---------------------------------------------------------------------------------


def test_plan_counts_remote_results() -> None:
    known = {"a": doc("a", "old").content_hash, "b": "hash-b", "c": "hash-c", "d": "hash-d"}
    plan = plan_sync(
        known,
        [
            Fetched(doc("a", "new")),
            Unchanged("b"),
            LoadFailure("c", "timed out"),
            Unchanged("zombie"),  # markers outlived the document: fetch it again next time
            Fetched(doc("e", "fresh")),
        ],
    )
    assert [d.doc_id for d in plan.changed] == ["a"]
    assert [d.doc_id for d in plan.new] == ["e"]
    assert plan.unchanged == ["b"]
    assert [f.doc_id for f in plan.failed] == ["c"]
    assert plan.refetch == ["zombie"]
    assert plan.deleted == ["d"]  # complete run: d is gone at the source
    assert plan.incomplete is None


@pytest.mark.parametrize(
    ("results", "complete"),
    [
        ([Unchanged("a"), SourceFailed("token expired")], True),
        ([Unchanged("a")], False),
        ([SourceFailed("404 on the root")], True),
    ],
)
def test_an_incomplete_run_deletes_nothing(results, complete) -> None:
    plan = plan_sync({"a": "h", "b": "h"}, results, complete=complete)
    assert plan.deleted == []
    assert plan.incomplete


# -- the registry -----------------------------------------------------------------------------


def test_registry_round_trip(library: Library, tmp_path: Path, embedder) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    registry = library.open(KB).sources
    folder = registry.add(
        SourceSpec("folder", str(notes), {"include": ["*.md"], "watch": False}, 10)
    )
    web = registry.add(SourceSpec("web_page", "https://example.com/setup#gear"))
    assert folder.key == f"folder:{notes.resolve()}" and not folder.watched
    assert web.key == "web_page:https://example.com/setup"  # one page, one key
    # Adding again updates the spec (schedule, options) instead of duplicating it.
    again = registry.add(SourceSpec("web_page", "https://example.com/setup", {}, 60))
    assert again.key == web.key and again.spec.schedule_minutes == 60

    reopened = Library(library.data_dir, embedder)
    try:
        records = reopened.open(KB).sources.list()
        assert [r.key for r in records] == [folder.key, web.key]
        assert records[0].spec.options == {"include": ["*.md"], "watch": False}
        assert records[1].spec.schedule_minutes == 60 and records[1].last_result is None
        assert reopened.open(KB).sources.find("https://example.com/setup").key == web.key
    finally:
        reopened.close()

    registry.remove(web.key)
    assert [r.key for r in registry.list()] == [folder.key]
    with pytest.raises(KnowledgeError, match="no source"):
        registry.find("web_page:https://example.com/setup")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (SourceSpec("folder", "/no/such/folder"), "does not exist"),
        (SourceSpec("notion_export", "/no/such/export.zip"), "does not exist"),
        (SourceSpec("folder", "/", {"max_file_mb": 0}), "max_file_mb"),
    ],
)
def test_registry_refuses_bad_specs(library: Library, spec, problem: str) -> None:
    with pytest.raises(SourceSpecError, match=problem):
        library.open(KB).sources.add(spec)
    assert library.open(KB).sources.list() == []


def test_folder_options_are_checked(library: Library, tmp_path: Path) -> None:
    with pytest.raises(SourceSpecError, match="front matter"):
        library.open(KB).sources.add(SourceSpec("folder", str(tmp_path), {"visibility": "private"}))


def test_folders_ingested_before_the_registry_are_adopted(library: Library, tmp_path) -> None:
    from ingest.loaders import FolderSource

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nThe capture card is an Elgato 4K60.\n", encoding="utf-8")
    kb = library.open(KB)
    kb.sync([FolderSource(notes)])  # the old way: no registry entry
    [record] = kb.sources.list()
    assert record.is_folder and record.source_name == str(notes.resolve())
    report, result = kb.sources.store(record.key, record.folder().load(), complete=True)
    assert report.unchanged == 1 and result.status == OK  # same ids: nothing re-embedded


# -- remote sync ------------------------------------------------------------------------------


@pytest.fixture
async def syncer(library: Library) -> AsyncIterator[SourceSyncer]:
    s = SourceSyncer(library, httpx.AsyncClient(trust_env=False))
    yield s
    await s.aclose()


async def test_sitemap_add_unchanged_update_delete(serve, syncer, library) -> None:  # noqa: F811
    site = Site(
        {
            "/gear": page("Gear", "The microphone is a Shure SM7B on a boom arm."),
            "/alerts": page("Alerts", "Raid alerts play a moth swarm for six seconds."),
        }
    )
    base = await serve(site.app())
    record, first = await syncer.add(KB, SourceSpec("sitemap", f"{base}/sitemap.xml"))
    assert first.result.status == OK and first.report.added == 2
    kb = library.open(KB)
    stored = kb.catalog.documents(record.key)
    assert set(stored) == {f"{record.key}::{base}/gear", f"{record.key}::{base}/alerts"}
    assert kb.ask("which microphone do you use?").citations[0].url == f"{base}/gear"

    again = await syncer.sync(KB, record.key)
    assert again.report.unchanged == 2 and again.report.chunks_embedded == 0
    assert site.page_requests("/gear")[-1] is not None  # asked with If-None-Match: a 304

    site.pages["/gear"] = page("Gear", "The microphone is now a Rode PodMic.")
    changed = await syncer.sync(KB, record.key)
    assert (changed.report.updated, changed.report.unchanged) == (1, 1)
    assert changed.report.chunks_embedded > 0
    assert "Rode PodMic" in kb.search("which microphone do you use?")[0].chunk.text

    del site.pages["/alerts"]
    gone = await syncer.sync(KB, record.key)
    assert gone.report.removed == 1 and gone.result.status == OK
    assert set(kb.catalog.documents(record.key)) == {f"{record.key}::{base}/gear"}
    [listed] = await syncer.list(KB)
    assert listed.last_result.removed == 1 and listed.last_synced_at is not None
    assert set(listed.state) == {f"{base}/gear"}  # the ETag, stored after the documents


async def test_failures_keep_what_was_indexed(serve, syncer, library) -> None:  # noqa: F811
    site = Site(
        {
            "/gear": page("Gear", "The microphone is a Shure SM7B on a boom arm."),
            "/alerts": page("Alerts", "Raid alerts play a moth swarm for six seconds."),
        }
    )
    base = await serve(site.app())
    record, _ = await syncer.add(KB, SourceSpec("sitemap", f"{base}/sitemap.xml"))
    kb = library.open(KB)
    before = kb.catalog.documents(record.key)

    site.status["/gear"] = 500  # one page fails: its last good version stays
    partial = await syncer.sync(KB, record.key)
    assert partial.result.status == PARTIAL
    assert partial.result.failures == ((f"{base}/gear", partial.result.failures[0][1]),)
    assert "server had an error" in partial.result.failures[0][1]
    assert kb.catalog.documents(record.key) == before

    site.status["/sitemap.xml"] = 404  # the whole source fails: nothing is removed
    failed = await syncer.sync(KB, record.key)
    assert failed.result.status == FAILED and "Nothing was removed" in failed.result.message
    assert kb.catalog.documents(record.key) == before
    [listed] = await syncer.list(KB)
    assert listed.last_result.status == FAILED and "404" in listed.last_result.message

    site.status.pop("/sitemap.xml")
    site.malformed_sitemap = True  # a malformed response: nothing is removed either
    malformed = await syncer.sync(KB, record.key)
    assert malformed.result.status == FAILED and "not valid XML" in malformed.result.message
    assert kb.catalog.documents(record.key) == before


async def test_timeouts_and_refusals_keep_a_page(serve, syncer, library) -> None:  # noqa: F811
    site = Site({"/gear": page("Gear", "The microphone is a Shure SM7B on a boom arm.")})
    base = await serve(site.app())
    spec = SourceSpec("web_page", f"{base}/gear", {"timeout": 0.3})
    record, first = await syncer.add(KB, spec)
    assert first.report.added == 1
    kb = library.open(KB)
    before = kb.catalog.documents(record.key)

    site.delay["/gear"] = 2.0
    slow = await syncer.sync(KB, record.key)
    assert slow.result.status == FAILED and "within 0.3 seconds" in slow.result.message
    site.delay.clear()
    site.status["/gear"] = 401  # an expired or revoked token looks like this
    refused = await syncer.sync(KB, record.key)
    assert refused.result.status == FAILED and "refused access" in refused.result.message
    site.status["/gear"] = 404
    missing = await syncer.sync(KB, record.key)
    assert missing.result.status == FAILED and "not found" in missing.result.message
    assert kb.catalog.documents(record.key) == before


async def test_two_sources_with_the_same_page_do_not_collide(serve, syncer, library) -> None:  # noqa: F811
    site = Site({"/gear": page("Gear", "The microphone is a Shure SM7B on a boom arm.")})
    base = await serve(site.app())
    single, _ = await syncer.add(KB, SourceSpec("web_page", f"{base}/gear"))
    sitemap, _ = await syncer.add(KB, SourceSpec("sitemap", f"{base}/sitemap.xml"))
    kb = library.open(KB)
    assert len(kb.catalog.documents()) == 2
    removed, report = await syncer.remove(KB, sitemap.key)
    assert removed.key == sitemap.key and report.removed == 1
    assert set(kb.catalog.documents()) == {f"{single.key}::{base}/gear"}
    assert [r.key for r in await syncer.list(KB)] == [single.key]


async def test_state_is_kept_only_once_documents_are_stored(
    serve,  # noqa: F811
    syncer,
    library,
    monkeypatch,
) -> None:
    site = Site({"/gear": page("Gear", "The microphone is a Shure SM7B on a boom arm.")})
    base = await serve(site.app())
    record, _ = await syncer.add(KB, SourceSpec("web_page", f"{base}/gear"), sync=False)
    kb = library.open(KB)

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-sync")

    monkeypatch.setattr(kb, "sync_results", crash)
    with pytest.raises(RuntimeError):
        await syncer.sync(KB, record.key)
    assert kb.sources.get(record.key).state == {}  # no ETag saved for an unstored page
    monkeypatch.undo()

    done = await syncer.sync(KB, record.key)
    assert done.report.added == 1
    assert site.page_requests("/gear") == [None, None]  # both runs fetched the whole page

    # Markers that outlived their document (state says unchanged, the index lacks it) are
    # dropped, so the next run fetches the page again.
    kb.remove_source(record.source_name)
    lost = await syncer.sync(KB, record.key)
    assert lost.report.refetch and kb.sources.get(record.key).state == {}
    healed = await syncer.sync(KB, record.key)
    assert healed.report.added == 1


async def test_missing_notion_token_is_a_recorded_failure(syncer, library) -> None:
    spec = SourceSpec("notion_page", "1" * 32)
    record, outcome = await syncer.add(KB, spec)
    assert outcome.result.status == FAILED and "token" in outcome.result.message
    stored = library.open(KB).sources.get(record.key)
    assert json.loads(stored.last_result.to_json())["status"] == FAILED


async def test_a_removed_folder_removes_nothing(syncer, library, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nThe capture card is an Elgato 4K60.\n", encoding="utf-8")
    record, first = await syncer.add(KB, SourceSpec("folder", str(notes)))
    assert first.report.added == 1
    (notes / "a.md").unlink()
    notes.rmdir()  # unmounted, renamed: not the same as every note deleted
    outcome = await syncer.sync(KB, record.key)
    assert outcome.result.status == FAILED and outcome.report.removed == 0
    assert len(library.open(KB).catalog.documents(record.source_name)) == 1

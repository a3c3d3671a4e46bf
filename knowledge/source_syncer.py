"""Syncing registered sources: fetching happens in the event loop, storing in a worker thread.

The seam between the two: `fetch_all` collects one connector run (httpx, async), then
`SourceRegistry.store` indexes it and records the connector state and the result (blocking,
run with `asyncio.to_thread`). Folders are loaded and stored in the worker thread alone.
`LiveSync` (knowledge/live_sync.py) runs it on a schedule; which hosts a member may add is
`ingest.connectors.addresses.is_public_host`.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ingest.connectors.base import (
    FetchResult,
    RemoteSource,
    Secret,
    SourceFailed,
    SourceRun,
    redact,
)
from ingest.connectors.spec import SourceSpec, SourceSpecError, build_source
from ingest.documents import LoadFailure, LoadResult
from knowledge.base import KnowledgeBase, KnowledgeError, Library
from knowledge.indexing import Progress, SyncReport
from knowledge.source_registry import SourceRecord, SourceResult

log = logging.getLogger(__name__)

_NEEDS_NOTION = ("notion_page", "notion_database")


@dataclass(frozen=True)
class SourceTokens:
    """The tokens remote sources are read with (never stored in a spec, never shown)."""

    notion: Secret | None = None
    google: Secret | None = None

    def for_kind(self, kind: str) -> Secret | None:
        if kind in _NEEDS_NOTION:
            return self.notion
        if kind == "google_doc":
            return self.google
        return None

    def redact(self, text: str) -> str:
        """`text` without these tokens (or anything shaped like a credential)."""
        return redact(text, (self.notion, self.google))


@dataclass(frozen=True)
class FetchOutcome:
    results: list[FetchResult]
    complete: bool


async def fetch_all(
    source: RemoteSource, client: httpx.AsyncClient, state: dict[str, Any]
) -> FetchOutcome:
    """Run a connector to the end; `complete` only when it listed everything it holds."""
    run = SourceRun()
    results: list[FetchResult] = []
    async for batch in run.batches(source.fetch(client, state)):
        results.extend(batch)
    return FetchOutcome(results, run.complete)


@dataclass(frozen=True)
class SourceOutcome:
    """One source's sync: its key, what was stored (None when nothing could be), the result."""

    key: str
    result: SourceResult
    report: SyncReport | None = None


class SourceSyncer:
    """Adds, removes and syncs the registered sources of a library's knowledge bases."""

    def __init__(
        self,
        library: Library,
        client: httpx.AsyncClient,
        tokens: SourceTokens | None = None,
        *,
        connector_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.library = library
        self.client = client
        self.tokens = tokens or SourceTokens()
        # Per kind, extra arguments for the connectors (base_url in tests, for instance).
        self.connector_options = dict(connector_options or {})
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._storing: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"SourceSyncer({self.library.data_dir!s})"

    async def kb(self, name: str) -> KnowledgeBase:
        return await asyncio.to_thread(self.library.open, name)

    async def list(self, kb_name: str) -> list[SourceRecord]:
        kb = await self.kb(kb_name)
        return await asyncio.to_thread(kb.sources.list)

    async def add(
        self, kb_name: str, spec: SourceSpec, *, sync: bool = True
    ) -> tuple[SourceRecord, SourceOutcome | None]:
        """Register (or update) a source and, unless told not to, sync it once right away."""
        kb = await self.kb(kb_name)
        record = await asyncio.to_thread(kb.sources.add, spec)
        outcome = await self.sync(kb_name, record.key) if sync else None
        return record, outcome

    async def remove(self, kb_name: str, key: str) -> tuple[SourceRecord, SyncReport]:
        kb = await self.kb(kb_name)
        record = await asyncio.to_thread(kb.sources.find, key)
        async with self._lock(kb_name, record.key):
            report = await self._in_thread(kb.sources.remove, record.key)
        return record, report

    async def sync_all(self, kb_name: str, progress: Progress | None = None) -> list[SourceOutcome]:
        return [
            await self.sync(kb_name, record.key, progress) for record in await self.list(kb_name)
        ]

    async def sync(self, kb_name: str, key: str, progress: Progress | None = None) -> SourceOutcome:
        """Sync one registered source. A source's failure is recorded and returned, not raised;
        whatever it had indexed before stays."""
        kb = await self.kb(kb_name)
        key = (await asyncio.to_thread(kb.sources.find, key)).key  # raises when unknown
        async with self._lock(kb_name, key):
            record = await asyncio.to_thread(kb.sources.get, key)  # as it is now, state and all
            if record is None:
                raise KnowledgeError(f"The source {key!r} was removed.")
            if record.is_folder:
                return await self._sync_folder(kb, record, progress)
            return await self._sync_remote(kb, record, progress)

    async def aclose(self) -> None:
        """Wait for stores already running in worker threads (they cannot be cancelled), then
        close the HTTP client (the syncer owns it)."""
        if self._storing:
            await asyncio.gather(*self._storing, return_exceptions=True)
        await self.client.aclose()

    # -- internals ------------------------------------------------------------------------
    def _lock(self, kb_name: str, key: str) -> asyncio.Lock:
        return self._locks.setdefault((kb_name, key), asyncio.Lock())

    async def _in_thread(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking knowledge work in a thread; a cancelled caller does not cut it short,
        and `aclose` waits for it."""
        task = asyncio.ensure_future(asyncio.to_thread(func, *args, **kwargs))
        self._storing.add(task)
        task.add_done_callback(self._storing.discard)
        return await asyncio.shield(task)

    async def _sync_folder(
        self, kb: KnowledgeBase, record: SourceRecord, progress: Progress | None
    ) -> SourceOutcome:
        folder = record.folder()

        def load() -> Iterable[LoadResult | FetchResult]:
            root = Path(record.spec.target)
            if not root.exists() or (root.is_dir() and not os.access(root, os.R_OK | os.X_OK)):
                # A moved, renamed or unmounted folder is not a folder emptied of notes.
                return [SourceFailed(f"The folder {root} cannot be read (moved or unmounted?).")]
            return folder.load()

        def store() -> tuple[SyncReport, SourceResult]:
            return kb.sources.store(record.key, load(), complete=True, progress=progress)

        report, result = await self._in_thread(store)
        _log_result(kb, record, result)
        return SourceOutcome(record.key, result, report)

    async def _sync_remote(
        self, kb: KnowledgeBase, record: SourceRecord, progress: Progress | None
    ) -> SourceOutcome:
        state = copy.deepcopy(record.state)
        try:
            source = build_source(
                record.spec,
                token=self.tokens.for_kind(record.kind),
                source_name=record.source_name,
                **self.connector_options.get(record.kind, {}),
            )
            outcome = await fetch_all(source, self.client, state)
        except SourceSpecError as exc:
            return await self._failed(kb, record, str(exc))
        except Exception as exc:  # connectors report problems as results; this is a bug
            trace = self.tokens.redact("".join(traceback.format_exception(exc)).rstrip())
            log.error(
                "kb %s, source %s: fetching failed unexpectedly\n%s", kb.name, record.key, trace
            )
            reason = f"Fetching failed unexpectedly ({type(exc).__name__}); see the log."
            return await self._failed(kb, record, reason)
        # A server's error text may echo what it was sent (the Authorization header): it is
        # stored as the source's last result and logged, so the tokens go first.
        results = [self._redacted(result) for result in outcome.results]
        report, result = await self._in_thread(
            kb.sources.store,
            record.key,
            results,
            complete=outcome.complete,
            state=state,
            progress=progress,
        )
        _log_result(kb, record, result)
        return SourceOutcome(record.key, result, report)

    def _redacted(self, result: FetchResult) -> FetchResult:
        if isinstance(result, LoadFailure):
            return dataclasses.replace(result, reason=self.tokens.redact(result.reason))
        if isinstance(result, SourceFailed):
            return SourceFailed(self.tokens.redact(result.reason))
        return result

    async def _failed(self, kb: KnowledgeBase, record: SourceRecord, reason: str) -> SourceOutcome:
        reason = self.tokens.redact(reason)
        result = await self._in_thread(kb.sources.record_failure, record.key, reason)
        _log_result(kb, record, result)
        return SourceOutcome(record.key, result)


def _log_result(kb: KnowledgeBase, record: SourceRecord, result: SourceResult) -> None:
    level = logging.INFO if result.ok else logging.WARNING
    log.log(level, "kb %s, source %s: %s: %s", kb.name, record.key, result.status, result.message)

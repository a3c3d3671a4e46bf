"""Syncing registered sources: fetching happens in the event loop, storing in a worker thread.

The seam between the two: `fetch_all` collects one connector run (httpx, async), then
`SourceRegistry.store` indexes it and records the connector state and the result (blocking,
run with `asyncio.to_thread`). Folders are loaded and stored in the worker thread alone.
`LiveSync` keeps sources fresh: watched folders within seconds, the rest on their schedule.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import logging
import os
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ingest.connectors.addresses import resolves_to_public_only
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
from knowledge.errors import StoreUnavailable
from knowledge.sources import SourceRecord, SourceResult
from knowledge.sync import Progress, SyncReport

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


# -- keeping sources fresh -----------------------------------------------------------------


def folder_fingerprint(record: SourceRecord) -> str:
    """A digest of the names, sizes and modification times of the files a folder source reads."""
    digest = hashlib.sha256()
    root = Path(record.spec.target)
    digest.update(b"present" if root.exists() else b"missing")
    for path, rel in record.folder().paths():
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "replace"))
    return digest.hexdigest()


class LiveSync:
    """Two loops a long-running process starts: watched folders are polled every
    `poll_seconds` and re-synced once a change has held still for one poll; sources with a
    schedule are synced when due, checked every `tick_seconds`. Polling (rather than OS file
    events) works the same on every platform, in containers and on network shares.
    """

    def __init__(
        self,
        syncer: SourceSyncer,
        *,
        poll_seconds: float = 2.0,
        tick_seconds: float = 30.0,
        max_parallel: int = 4,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.syncer = syncer
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        self.clock = clock
        self._sleep = sleep
        self._parallel = asyncio.Semaphore(max_parallel)
        self._synced: dict[tuple[str, str], str] = {}  # fingerprint at the last sync
        self._pending: dict[tuple[str, str], str] = {}  # a change seen, not yet settled
        self._running: dict[tuple[str, str], asyncio.Task[SourceOutcome | None]] = {}

    async def watch_folders(self) -> None:
        while True:
            try:
                await self.check_folders()
            except StoreUnavailable:
                pass  # logged; the change is synced at a poll after the store is back
            except Exception:
                log.exception("checking the watched folders failed")
            await self._sleep(self.poll_seconds)

    async def run_schedule(self) -> None:
        try:
            while True:
                try:
                    await self.run_due(wait=False)  # a long sync does not hold up the others
                except Exception:
                    log.exception("running the scheduled source syncs failed")
                await self._sleep(self.tick_seconds)
        finally:
            for task in list(self._running.values()):
                task.cancel()

    async def check_folders(self) -> list[SourceOutcome]:
        """One poll: sync the watched folders whose change has settled since the last poll."""
        outcomes = []
        for kb_name, record in await self._records(lambda r: r.watched):
            ident = (kb_name, record.key)
            fingerprint = await asyncio.to_thread(folder_fingerprint, record)
            if self._synced.get(ident) == fingerprint:
                self._pending.pop(ident, None)
                continue
            if self._pending.get(ident) != fingerprint:
                self._pending[ident] = fingerprint  # wait until the editor is done saving
                continue
            outcomes.append(await self._sync(kb_name, record))
            self._synced[ident] = fingerprint
            self._pending.pop(ident, None)
        return outcomes

    async def run_due(self, *, wait: bool = True) -> list[SourceOutcome]:
        """Start a sync of every due source not already syncing (a few at a time); with
        `wait`, return their outcomes once they are done."""
        now = self.clock()
        started = []
        for kb_name, record in await self._records(lambda r: r.due(now)):
            ident = (kb_name, record.key)
            if ident in self._running:
                continue
            task = asyncio.create_task(self._limited(kb_name, record), name=f"sync {record.key}")
            self._running[ident] = task
            task.add_done_callback(lambda _, ident=ident: self._running.pop(ident, None))
            started.append(task)
        if not wait:
            return []
        outcomes = await asyncio.gather(*started)
        return [o for o in outcomes if o is not None]

    async def _limited(self, kb_name: str, record: SourceRecord) -> SourceOutcome | None:
        async with self._parallel:
            try:
                return await self._sync(kb_name, record)
            except StoreUnavailable:
                return None  # still due: tried again at a later tick

    async def _sync(self, kb_name: str, record: SourceRecord) -> SourceOutcome | None:
        """A sync's outcome, None after a bug (logged); StoreUnavailable (a Chroma server that
        is down) is raised, so a folder's change is not taken as synced."""
        try:
            return await self.syncer.sync(kb_name, record.key)
        except StoreUnavailable as exc:
            log.warning("kb %s: source %s not synced: %s", kb_name, record.key, exc)
            raise
        except Exception:  # one source's bug must not stop the others
            log.exception("kb %s: syncing source %s failed", kb_name, record.key)
            return None

    async def _records(
        self, wanted: Callable[[SourceRecord], bool]
    ) -> list[tuple[str, SourceRecord]]:
        library = self.syncer.library

        def collect() -> list[tuple[str, SourceRecord]]:
            return [
                (name, record)
                for name in library.names()
                for record in library.open(name).sources.list()
                if wanted(record)
            ]

        return await asyncio.to_thread(collect)


# -- adding sources from the bot: no private addresses ---------------------------------------


async def is_public_host(host: str) -> bool:
    """A first answer when a member adds a web source: whether `host` is public. A name that
    does not resolve is not called private: like every fetch, its sync fails to connect. (The
    fetches themselves are checked again, connection by connection, by `outbound_client`.)"""
    try:
        return await resolves_to_public_only(host)
    except OSError:
        return True

"""Keeping registered sources fresh in a long-running process: watched folders within
seconds of a change, the rest on their schedule (`SourceSyncer` does each sync)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from knowledge.errors import StoreUnavailable
from knowledge.source_registry import SourceRecord
from knowledge.source_syncer import SourceOutcome, SourceSyncer

log = logging.getLogger(__name__)


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

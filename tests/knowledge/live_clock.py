"""Time for LiveSync's loops that moves only when a test says so, and the syncs they finish.

LiveSync takes a `clock` and a `sleep`: with a ManualClock, a test runs the loops round by round
instead of sleeping on the wall clock and hoping the machine was fast enough.
"""

from __future__ import annotations

import asyncio
from typing import Any

from knowledge.source_syncer import SourceSyncer

TIMEOUT_S = 30.0  # only bounds a failing test: a round may include a real sync on a busy machine


class ManualClock:
    """`clock` and `sleep` for LiveSync. `now` moves only by `advance`, which wakes the loops
    whose sleep has ended and returns once each has run its round and is asleep again."""

    def __init__(self, now: float) -> None:
        self.now = now
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._changed = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, wake))
        self._changed.set()
        try:
            await wake
        finally:  # cancelled: no longer asleep
            self._sleepers = [(at, f) for at, f in self._sleepers if f is not wake]

    async def sleeping(self, count: int = 1, timeout: float = TIMEOUT_S) -> None:
        """Wait until `count` loops are asleep on this clock (their round is done)."""
        async with asyncio.timeout(timeout):
            while len(self._sleepers) < count:
                self._changed.clear()
                await self._changed.wait()

    async def advance(self, seconds: float, timeout: float = TIMEOUT_S) -> None:
        """Move time on by `seconds`; the loops due run one round each."""
        asleep = len(self._sleepers)
        self.now += seconds
        due = [wake for at, wake in self._sleepers if at <= self.now]
        self._sleepers = [(at, wake) for at, wake in self._sleepers if at > self.now]
        for wake in due:
            wake.set_result(None)
        await self.sleeping(asleep, timeout)


class FinishedSyncs:
    """The outcome of every sync a SourceSyncer finishes from now on (LiveSync's included)."""

    def __init__(self, syncer: SourceSyncer) -> None:
        self._finished: asyncio.Queue[Any] = asyncio.Queue()
        sync = syncer.sync

        async def recorded(*args: Any, **kwargs: Any) -> Any:
            try:
                outcome = await sync(*args, **kwargs)
            except Exception as error:
                self._finished.put_nowait(error)
                raise
            self._finished.put_nowait(outcome)
            return outcome

        syncer.sync = recorded  # type: ignore[method-assign]

    async def next(self, timeout: float = TIMEOUT_S) -> Any:
        """The next sync to finish: its SourceOutcome (or the exception it raised)."""
        return await asyncio.wait_for(self._finished.get(), timeout)

    async def of(self, key: str, timeout: float = TIMEOUT_S) -> Any:
        """The next finished sync of source `key` (others, like a watched folder's, skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                outcome = await self._finished.get()
                if isinstance(outcome, Exception):
                    raise outcome
                if outcome.key == key:
                    return outcome

    def empty(self) -> bool:
        return self._finished.empty()


def finished_syncs(syncer: SourceSyncer) -> FinishedSyncs:
    return FinishedSyncs(syncer)

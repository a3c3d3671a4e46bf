"""A decision survives kill -9 whole or not at all: state, decision and audit row together."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from bot.clips import ClipStatus, ReviewQueue
from bot.clips.states import replay
from bot.storage import Database
from tests.clips.conftest import draft
from tests.clips.crash_worker import GUILD

REPO_ROOT = Path(__file__).resolve().parents[2]
N_CLIPS = 100


async def seed(path: Path) -> None:
    db = await Database.open(path)
    queue = await ReviewQueue.open(db)
    for i in range(N_CLIPS):
        await queue.submit(GUILD, 1, draft(f"clip {i}"))
    await db.close()  # checkpoints the WAL: the file alone holds everything


async def check_consistent(path: Path) -> dict[int, ClipStatus]:
    """Every clip is either untouched or fully decided; returns the states."""
    db = await Database.open(path)
    try:
        integrity = await db.fetchone("PRAGMA integrity_check")
        assert integrity is not None and integrity[0] == "ok"
        clips = await db.fetchall("SELECT id, status FROM clips WHERE guild_id = ?", (GUILD,))
        trails: dict[int, list[tuple[str, str | None, str]]] = defaultdict(list)
        for row in await db.fetchall("SELECT * FROM clip_audit ORDER BY id"):
            trails[row["clip_id"]].append((row["action"], row["from_state"], row["to_state"]))
        decisions = Counter(
            row[0] for row in await db.fetchall("SELECT clip_id FROM clip_decisions")
        )
        states: dict[int, ClipStatus] = {}
        for row in clips:
            clip_id, status = row["id"], ClipStatus(row["status"])
            trail = trails[clip_id]
            assert replay(trail) == status
            if status == ClipStatus.SUBMITTED:
                assert decisions[clip_id] == 0 and len(trail) == 1
            else:
                assert status in (ClipStatus.APPROVED, ClipStatus.REJECTED)
                assert decisions[clip_id] == 1 and len(trail) == 2
            states[clip_id] = status
        assert len(states) == N_CLIPS
        return states
    finally:
        await db.close()


def run_worker(paths: dict[str, Path]) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Run the scenarios, killing "run" at a random point and "pause" after its first commit.

    Returns the clip ids each scenario reported committed, and the signal each child died of.
    """
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.clips.crash_worker"]
        + [f"{mode}:{path}" for mode, path in paths.items()],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    committed: dict[str, list[int]] = defaultdict(list)
    ended: dict[str, int] = {}
    pids: dict[str, int] = {}
    kill_run_after = random.randint(1, 40)  # commits seen; the kill lands wherever it lands
    try:
        assert worker.stdout is not None
        for line in worker.stdout:
            if line.strip() == "all ended":
                break
            mode, event, *value = line.split()
            if event == "ready":
                pids[mode] = int(value[0])
            elif event == "committed":
                committed[mode].append(int(value[0]))
                if mode == "pause" or (mode == "run" and len(committed[mode]) == kill_run_after):
                    time.sleep(random.uniform(0, 0.005) if mode == "run" else 0)
                    os.kill(pids[mode], signal.SIGKILL)
            elif event == "ended":
                ended[mode] = int(value[0])
        worker.wait(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    return committed, ended


async def test_kill_at_random_points_after_commit_and_inside_a_transaction(
    tmp_path: Path,
) -> None:
    seeded = tmp_path / "seeded.db"
    await seed(seeded)
    paths = {mode: tmp_path / f"{mode}.db" for mode in ("run", "pause", "die-inside")}
    for path in paths.values():
        shutil.copyfile(seeded, path)

    committed, ended = await asyncio.to_thread(run_worker, paths)
    assert ended == {mode: signal.SIGKILL for mode in paths}, ended

    run_states = await check_consistent(paths["run"])
    for clip_id in committed["run"]:  # what was reported committed is on disk after kill -9
        assert run_states[clip_id] != ClipStatus.SUBMITTED

    pause_states = await check_consistent(paths["pause"])
    [first_id] = committed["pause"]
    assert pause_states[first_id] == ClipStatus.APPROVED
    assert sum(s != ClipStatus.SUBMITTED for s in pause_states.values()) == 1

    inside_states = await check_consistent(paths["die-inside"])
    assert set(inside_states.values()) == {ClipStatus.SUBMITTED}  # the half decision is gone
    assert committed["die-inside"] == []

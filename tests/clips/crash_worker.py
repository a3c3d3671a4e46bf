"""Decides clips in child processes that test_crash_safety kills with SIGKILL.

Usage: python -m tests.clips.crash_worker MODE:DB_PATH [MODE:DB_PATH ...]
The imports are paid once, then each scenario runs in a forked child (before any event loop
or database thread exists, so forking is safe). Every line printed starts with the mode.
  run          decide every submitted clip, printing "committed <id>" after each commit
  pause        decide one clip, print "committed <id>", then wait to be killed
  die-inside   kill itself between the state UPDATE and the audit INSERT of the first decision
The parent prints "<mode> ended <signal>" for each child, then "all ended".
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import bot.clips.records as records_module
from bot.clips import ReviewQueue
from bot.storage import Database

GUILD = 77
MODS = (501, 502)


async def decide(db_path: str, mode: str) -> None:
    def say(line: str) -> None:
        # One write(2) per line: atomic on a pipe, so lines of the children never interleave.
        os.write(1, f"{mode} {line}\n".encode())

    db = await Database.open(db_path)
    queue = await ReviewQueue.open(db)
    if mode == "die-inside":
        append_audit = records_module.append_audit

        async def die_before_audit(*args: object, **kwargs: object) -> None:
            os.kill(os.getpid(), signal.SIGKILL)
            await append_audit(*args, **kwargs)  # type: ignore[arg-type]

        records_module.append_audit = die_before_audit  # type: ignore[assignment]
    say(f"ready {os.getpid()}")
    for n, clip in enumerate(await queue.queue(GUILD, status="submitted", limit=10_000)):
        if n % 2:
            await queue.reject(clip.id, GUILD, MODS[1], "not on brand")
        else:
            await queue.approve(clip.id, GUILD, MODS[0])
        say(f"committed {clip.id}")
        if mode == "pause":
            await asyncio.sleep(30)
    say("done")
    await asyncio.sleep(30)  # finished before the test's kill: wait for it all the same


def main(scenarios: list[str]) -> None:
    children: dict[int, str] = {}
    for scenario in scenarios:
        mode, db_path = scenario.split(":", 1)
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(decide(db_path, mode))
            finally:
                os._exit(0)
        children[pid] = mode
    for _ in scenarios:
        pid, status = os.wait()
        signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        os.write(1, f"{children[pid]} ended {signal_number}\n".encode())
    os.write(1, b"all ended\n")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Two processes on one knowledge base: the bot serves it while `greenroom ingest` changes it.

chromadb's embedded client caches each collection's index per process. Before
knowledge/vectors.py kept up with other processes, the serving process missed (or failed with
`InternalError ... Error finding id` on) what another process had ingested until it restarted,
and a process writing from its stale cache could save an index without the other's vectors.

The test process is A, the bot's side, with the session model. B is two_process_worker.py: one
child that loads the model once and runs the CLI's own ingest whenever it is told to, staying
open in between, so each side writes while the other holds the store open. Collections are made
with chroma saving its index every 2 records (1,000 by default): a few notes then reach what a
large ingest reaches.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.cli_commands import ingest_paths
from ingest.documents import Document
from knowledge import vectors
from knowledge.base import KnowledgeBase, Library
from knowledge.vectors import ProcessLock
from tests.conftest import REPO_ROOT
from tests.knowledge.two_process_worker import dense_reach

KB = "shared"
WORKER = "tests.knowledge.two_process_worker"
FILLER = " ".join(
    f"Paragraph {n} explains one more detail of the overlay, the scene and the stream."
    for n in range(12)
)
V1 = {
    "intro.md": "# Intro\n\nThe stream intro is a Sora clip, edited by hand in DaVinci Resolve.\n",
    "brb.md": "# BRB\n\nThe BRB screen shows a rainy window loop made in Kling.\n",
    "shelf.md": "# Shelf\n\nThe zanzibarquux plushie sits on the shelf behind the desk.\n",
}
V2 = {  # B's first ingest: one note kept, one changed, one deleted, two added
    "intro.md": V1["intro.md"],
    "brb.md": "# BRB\n\nThe BRB screen is now a lo-fi moth study loop.\n\n" + FILLER + "\n",
    "emotes.md": "# Emotes\n\nEvery quokkafrobnitz emote was drawn by hand.\n\n" + FILLER + "\n",
    "mods.md": "# Mods\n\nMods are picked in January and July.\n\n" + FILLER + "\n",
}
V3 = {  # B's second ingest, after A stored a mod's answer: one deleted, one added
    **{k: v for k, v in V2.items() if k != "mods.md"},
    "raids.md": "# Raids\n\nRaids of five viewers or more play the gorblax raid animation.\n",
}
MOD_ANSWER = Document(
    doc_id="mod-answers::1",
    title="when does the stream start",
    text="Streams start Tuesdays and Fridays at the wibblewump hour.\n",
    source="mod-answers",
)
CLEAN = {"missing": [], "extra": []}  # every chunk of the catalog has its vector, and no more


def write_notes(root: Path, notes: dict[str, str]) -> None:
    root.mkdir(exist_ok=True)
    for old in root.iterdir():
        if old.name not in notes:
            old.unlink()
    for rel, text in notes.items():
        (root / rel).write_text(text, encoding="utf-8")


def top(kb: KnowledgeBase, question: str) -> tuple[str, bool]:
    """The first hit's document, and whether the dense retriever found it (its vector)."""
    hit = kb.search(question, k=3)[0]
    return hit.chunk.doc_id, hit.dense is not None


class ProcessB:
    """two_process_worker.py in its own process group, one command and one answer at a time."""

    def __init__(self, data_dir: Path, notes: Path, stderr: Path) -> None:
        self.stderr_path = stderr
        with stderr.open("w") as err:  # a file: a full stderr pipe would stall the child
            self.proc = subprocess.Popen(
                [sys.executable, "-m", WORKER, str(data_dir), KB, str(notes)],
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.watchdog = threading.Timer(300, self.kill)
        self.watchdog.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float = 120) -> str:
        while True:  # lines some library printed are skipped
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"B ended: {self.stderr_path.read_text()[-3000:]}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def send(self, command: str, reply: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.expect(reply)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        try:
            with contextlib.suppress(OSError):
                self.send("quit", "never")
        except AssertionError:
            pass  # B ended, as asked
        finally:
            self.watchdog.cancel()
            self.kill()  # nothing of the group may outlive the test
            self.proc.wait()


@pytest.mark.slow
def test_a_served_knowledge_base_follows_another_processes_ingests(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(vectors.HNSW_CONFIGURATION, "sync_threshold", 2)
    notes, data_dir = tmp_path / "notes", tmp_path / "data"
    write_notes(notes, V1)
    library = Library(data_dir, embedder)
    b = ProcessB(data_dir, notes, tmp_path / "b-stderr.txt")  # loads its model meanwhile
    try:
        # A ingests and serves; B has the store open from before A wrote.
        kb, _ = ingest_paths(library, KB, [notes], progress=False)
        shelf = top(kb, "where does the zanzibarquux plushie sit")
        assert shelf[0].endswith("shelf.md") and shelf[1]
        b.expect("ready", timeout=180)

        # B ingests (adds, changes, deletes) while A keeps answering from worker threads.
        write_notes(notes, V2)
        errors: list[BaseException] = []
        answered: list[float] = []
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    assert top(kb, "how was the stream intro clip edited")[0].endswith("intro.md")
                    answered.append(time.perf_counter() - started)
                except BaseException as exc:
                    errors.append(exc)

        servers = [threading.Thread(target=serve) for _ in range(2)]
        for server in servers:
            server.start()
        try:
            summary = b.send("ingest", "ingested")
        finally:
            stop.set()
            for server in servers:
                server.join()
        assert summary.startswith("added 2, updated 1, unchanged 1, removed 1"), summary
        assert not errors, errors[:3]
        assert answered

        # Without restarting, A's dense search has exactly B's vectors.
        assert dense_reach(kb) == CLEAN
        emotes = top(kb, "who drew the quokkafrobnitz emotes")
        assert emotes[0].endswith("emotes.md") and emotes[1]
        brb = top(kb, "what does the BRB screen show, the moth study loop")
        assert brb[0].endswith("brb.md") and brb[1]
        assert kb.catalog.lexical_search("zanzibarquux", 5) == []

        # A writes after B wrote (a mod's answer) ...
        kb.add_documents([MOD_ANSWER])
        assert dense_reach(kb) == CLEAN
        # ... and B, open all along, writes after A wrote: neither loses the other's vectors.
        write_notes(notes, V3)
        summary = b.send("ingest", "ingested")
        assert summary.startswith("added 1, updated 0, unchanged 3, removed 1"), summary
        assert json.loads(b.send("check", "check")) == CLEAN
        assert json.loads(b.send("search when does the stream start, wibblewump", "search"))[0] == [
            MOD_ANSWER.doc_id,
            True,
        ]

        assert dense_reach(kb) == CLEAN
        assert top(kb, "which raids play the gorblax raid animation")[0].endswith("raids.md")
        assert top(kb, "when does the stream start, wibblewump") == (MOD_ANSWER.doc_id, True)
        assert kb.collection.count() == kb.catalog.stats()["chunks"]
    finally:
        b.close()
        library.close()


def test_process_lock_holds_an_flock_while_held_and_reenters(tmp_path: Path) -> None:
    path = tmp_path / "sync.lock"
    lock = ProcessLock(path)

    def free() -> bool:
        """Whether another open file (as another process has) can take the lock now."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    with lock:
        assert not free()
        with lock:  # re-entrant in its holder
            assert not free()
        assert not free()
    assert free()

"""kill -9 during a sync: the knowledge base still opens and answers, and the next sync heals it.

Each scenario runs a real sync in its own process over its own data directory and SIGKILLs
it at one moment. Loading the model (~8 s) is what a process costs, so one `python -c` child
loads it once and forks one process per scenario before anything else starts (no chroma
client, no encode yet). The product code has no test hooks: the child script only makes every
document its own batch (so progress is reported per document) and, for two scenarios, wraps a
function to print a marker and wait there to be killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import chunk_document
from ingest.documents import Document
from ingest.loaders import FolderSource
from ingest.windows import sentence_windows
from knowledge.answer import DECLINE
from knowledge.base import KnowledgeBase, Library
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

KB = "crash"
SOURCE = "notes"
FILLER = " ".join(
    f"Paragraph {n} explains one more detail of the overlay, the scene and the stream."
    for n in range(16)
)
STATE_A = {
    "keep.md": "# Intro\n\nThe stream intro is a Sora clip, edited by hand in DaVinci Resolve.\n",
    "grow.md": "# Raids\n\nRaids of five viewers or more play the big moth raid animation.\n",
    "rewrite.md": "# BRB\n\nThe BRB screen shows a rainy window loop made in Kling.\n",
    "gone.md": "# Shelf\n\nThe zanzibarquux plushie sits on the shelf behind the desk.\n",
}
STATE_B = {
    "keep.md": STATE_A["keep.md"],
    "grow.md": STATE_A["grow.md"] + "\n## Details\n\n" + FILLER + "\n",
    "rewrite.md": "# BRB\n\nThe BRB screen is now a lo-fi moth study loop.\n\n" + FILLER + "\n",
    "a-new.md": "# Emotes\n\nEvery emote was drawn by hand.\n\n" + FILLER + "\n",
    "b-new.md": "# Mods\n\nMods are picked in January and July.\n\n" + FILLER + "\n",
}
RAID_QUESTION = "how many viewers does a raid need for the big moth raid animation"
INTRO_QUESTION = "how was the stream intro clip edited"

CHILD = r"""
import os, sys, time, traceback
from pathlib import Path

notes_a, notes_b = sys.argv[1:3]
scenarios = list(zip(sys.argv[3::2], sys.argv[4::2]))  # (mode, data dir) pairs

from knowledge.embedder import Embedder

embedder = Embedder()  # loaded once; every scenario is a fork of this process


def run(mode, data_dir):
    import knowledge.indexing as indexing
    from ingest.loaders import FolderSource
    from knowledge.base import Library
    from knowledge.catalog import Catalog

    def say(line):
        # One write per line: the forks share the pipe, and with PYTHONUNBUFFERED print()
        # writes the text and the newline separately, so lines of two forks could interleave.
        os.write(1, f"{mode}: {line}\n".encode())

    def wait_for_the_kill(marker):
        say(f"KILL ME: {marker}")
        time.sleep(300)
        say("not killed")

    say(f"pid {os.getpid()}")
    kb = Library(Path(data_dir), embedder).open("crash")
    kb.sync([FolderSource(Path(notes_a), name="notes")])
    say("state A synced")

    indexing.BATCH_CHUNKS = 1  # one document per batch: progress after every document

    if mode == "in-transaction":  # vectors of document 2 stored, its rows not committed
        replace = Catalog.replace_document
        calls = []

        def replace_document(self, conn, doc, chunks, passages):
            replace(self, conn, doc, chunks, passages)
            calls.append(doc.doc_id)
            if len(calls) == 2:
                wait_for_the_kill("inside the catalog transaction")

        Catalog.replace_document = replace_document

    if mode == "before-vector-delete":  # rows committed, replaced vectors not yet deleted
        delete = indexing._delete_vectors

        def delete_vectors(collection, ids):
            if ids:
                wait_for_the_kill("before deleting replaced vectors")
            delete(collection, ids)

        indexing._delete_vectors = delete_vectors

    def progress(done, total):
        say(f"progress {done}/{total}")
        if mode == "after-progress-1" and done == 1:
            say("KILL ME: after progress 1")  # and carry on: the kill lands where it lands

    kb.sync([FolderSource(Path(notes_b), name="notes")], progress=progress)
    say("sync finished")


children = {}
for mode, data_dir in scenarios:
    pid = os.fork()
    if pid == 0:
        try:
            run(mode, data_dir)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(0)
    children[pid] = mode
for _ in scenarios:
    pid, status = os.wait()
    signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    os.write(1, f"{children[pid]}: ended, signal {signal_number}\n".encode())
"""

MODES = ("after-progress-1", "in-transaction", "before-vector-delete")


@dataclass
class CrashRun:
    data_dir: Path
    lines: list[str]
    signal: int | None


def write_notes(root: Path, notes: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for rel, text in notes.items():
        (root / rel).write_text(text, encoding="utf-8")
    return root


class CrashChild:
    """One `python -c` process that forks a sync per scenario; each is SIGKILLed at its marker.

    A thread reads the output as it comes, so a kill lands right after its marker while the
    test process does other work (it builds the uninterrupted reference meanwhile).
    """

    def __init__(self, notes_a: Path, notes_b: Path, data_dirs: dict[str, Path]) -> None:
        self.runs = {mode: CrashRun(data_dir, [], None) for mode, data_dir in data_dirs.items()}
        self.other: list[str] = []  # lines some library printed
        args = [str(notes_a), str(notes_b)]
        for mode, data_dir in data_dirs.items():
            args += [mode, str(data_dir)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, so a stuck run can be ended whole
        )
        self.group = os.getpgid(self.proc.pid)
        self.watchdog = threading.Timer(240, os.killpg, (self.group, signal.SIGKILL))
        self.watchdog.start()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        pids: dict[str, int] = {}
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                mode, _, text = line.rstrip("\n").partition(": ")
                if mode not in self.runs:
                    self.other.append(line)
                    continue
                self.runs[mode].lines.append(text)
                if text.startswith("pid "):
                    pids[mode] = int(text.split()[1])
                elif text.startswith("KILL ME"):
                    os.kill(pids[mode], signal.SIGKILL)
                elif text.startswith("ended, signal "):
                    self.runs[mode].signal = int(text.split()[2])
        except Exception as exc:  # fail fast rather than leave forks waiting to be killed
            self.other.append(f"reader failed: {exc!r}")
            self._end_group()

    def _end_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.group, signal.SIGKILL)

    def finish(self) -> dict[str, CrashRun]:
        try:
            self.reader.join(timeout=250)
            self._end_group()  # a no-op after a normal run: every process has exited by now
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            assert self.proc.wait(timeout=60) == 0, (self.other, stderr[-3000:])
        finally:
            self.watchdog.cancel()
            self._end_group()  # nothing of the group may outlive the test
            self.proc.wait()
        return self.runs


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("crash-notes")
    return write_notes(root / "a", STATE_A), write_notes(root / "b", STATE_B)


@pytest.fixture(scope="module")
def crashes(
    tmp_path_factory: pytest.TempPathFactory, notes, embedder
) -> tuple[dict[str, CrashRun], KnowledgeBase]:
    """The killed runs, and a reference knowledge base synced the same way without a kill."""
    data_dirs = {mode: tmp_path_factory.mktemp(f"crash-{mode}") / "data" for mode in MODES}
    child = CrashChild(*notes, data_dirs)
    try:
        library = Library(tmp_path_factory.mktemp("crash-reference") / "data", embedder)
        reference = library.open(KB)
        reference.sync([FolderSource(notes[0], name=SOURCE)])
        report = reference.sync([FolderSource(notes[1], name=SOURCE)])
        assert (report.added, report.updated, report.unchanged, report.removed) == (2, 2, 1, 1)
    finally:
        runs = child.finish()  # also ends the child's process group, whatever happened
    return runs, reference


def assert_passages_complete(kb: KnowledgeBase, chunks) -> None:
    """Every chunk row has its whole-chunk vector (equal to chroma's) and all its windows."""
    stored = kb.catalog.passages([c.chunk_id for c in chunks])
    vectors = kb.collection.get(ids=[c.chunk_id for c in chunks], include=["embeddings"])
    chroma = dict(zip(vectors["ids"], vectors["embeddings"], strict=True))
    for c in chunks:
        windows = sentence_windows(c.text, kb.chunker.window_sentences, kb.chunker.window_stride)
        got = stored[c.chunk_id]
        assert [(p.start, p.end) for p in got] == [
            (0, len(c.text)),
            *((w.start, w.end) for w in windows),
        ], c.chunk_id
        whole = got[0].vector.astype(np.float32)
        assert float(whole @ np.asarray(chroma[c.chunk_id], dtype=np.float32)) > 0.999


def versions(notes_dir: Path) -> dict[str, Document]:
    return {
        d.doc_id: d for d in FolderSource(notes_dir, name=SOURCE).load() if isinstance(d, Document)
    }


@pytest.mark.parametrize("mode", MODES)
def test_killed_sync_keeps_answering_and_the_next_sync_heals(
    mode: str, crashes, notes, embedder
) -> None:
    runs, reference = crashes
    run = runs[mode]
    assert run.signal == signal.SIGKILL, run.lines
    assert "state A synced" in run.lines
    assert "sync finished" not in run.lines
    assert any(line.startswith("KILL ME") for line in run.lines), run.lines

    library = Library(run.data_dir, embedder)
    try:
        kb = library.open(KB)
        catalog_ids = kb.catalog.chunk_ids()
        vectors = set(kb.collection.get(include=[])["ids"])
        # Every chunk the catalog can hand out has its vector; extra vectors are harmless.
        assert catalog_ids <= vectors
        if mode != "after-progress-1":
            assert vectors - catalog_ids, "the kill should have left vectors without rows"

        # Each document is wholly its old or wholly its new version, never a mix.
        old, new = versions(notes[0]), versions(notes[1])
        for doc_id, entry in kb.catalog.documents().items():
            candidates = [v for v in (old.get(doc_id), new.get(doc_id)) if v is not None]
            doc = next(v for v in candidates if v.content_hash == entry.content_hash)
            chunks = chunk_document(doc, embedder, kb.chunker)
            assert kb.catalog.chunk_ids([doc_id]) == {c.chunk_id for c in chunks}, doc_id
            assert_passages_complete(kb, chunks)

        # What could be answered before the sync can still be answered.
        for question, path in ((RAID_QUESTION, "grow.md"), (INTRO_QUESTION, "keep.md")):
            answer = kb.ask(question)
            assert answer.mode != DECLINE, (question, answer.features)
            assert answer.citations[0].path == path

        # The next sync completes and ends exactly where an uninterrupted one does.
        kb.sync([FolderSource(notes[1], name=SOURCE)])
        assert kb.catalog.documents() == reference.catalog.documents()
        assert kb.catalog.chunk_ids() == reference.catalog.chunk_ids()
        assert set(kb.collection.get(include=[])["ids"]) == kb.catalog.chunk_ids()
        assert kb.collection.count() == kb.catalog.stats()["chunks"] == reference.collection.count()
        assert kb.catalog.lexical_search("zanzibarquux", 5) == []
        # Window vectors end exactly as an uninterrupted sync leaves them.
        ids = sorted(kb.catalog.chunk_ids())
        mine, theirs = kb.catalog.passages(ids), reference.catalog.passages(ids)
        assert mine.keys() == theirs.keys() == set(ids)
        for cid in ids:
            assert [(p.idx, p.start, p.end) for p in mine[cid]] == [
                (p.idx, p.start, p.end) for p in theirs[cid]
            ]
            for a, b in zip(mine[cid], theirs[cid], strict=True):
                assert float(a.vector.astype(np.float32) @ b.vector.astype(np.float32)) > 0.999
    finally:
        library.close()

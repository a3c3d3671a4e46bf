"""`greenroom backup DIR` and `greenroom restore DIR`: a data directory copied while it is in
use, restored into a new one that answers the same questions with the same citations."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES_NOTES

QUESTIONS = [
    "what camera do you use?",
    "when do you stream?",
    "how do I submit a clip?",
    "what is the capital of Peru?",
]


def _answers(cli_main, data: Path) -> list[dict]:
    answers = []
    for question in QUESTIONS:
        code, out, err = cli_main("--data-dir", data, "ask", question, "--kb", "fans", "--json")
        assert code == 0, err
        answers.append(json.loads(out))
    return answers


def _fill(cli_main, data: Path) -> None:
    """Notes, a server's settings, a clip file and the Twitch token file."""
    code, _, err = cli_main("--data-dir", data, "ingest", EXAMPLES_NOTES, "--kb", "fans")
    assert code == 0, err
    code, _, err = cli_main(
        "--data-dir", data, "config", "set", "--guild", 42, "user_cooldown_seconds", 17
    )
    assert code == 0, err
    clip = data / "clips" / "ab" / "abcdef.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(os.urandom(4096))
    token = data / "twitch_tokens.json"
    token.write_text('{"access_token": "secret"}')
    token.chmod(0o600)


class Busy(threading.Thread):
    """Another user of the data directory: asks questions and syncs a folder that keeps
    changing, into its own knowledge base, until stopped."""

    def __init__(self, data: Path, embedder, folder: Path) -> None:
        super().__init__(daemon=True)
        from knowledge.base import Library

        self.library = Library(data, embedder)
        self.folder = folder
        self.stop = threading.Event()
        self.writes = 0
        self.reads = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        from bot.cli_commands import ingest_paths

        fans = self.library.open("fans")
        try:
            while not self.stop.is_set():
                (self.folder / f"note-{self.writes}.md").write_text(
                    f"# Note {self.writes}\n\nThe secret word number {self.writes} is"
                    f" banana-{self.writes}. Stream schedule change {self.writes}.\n"
                )
                if self.writes > 2:
                    (self.folder / f"note-{self.writes - 3}.md").unlink()
                ingest_paths(self.library, "scratch", [self.folder], progress=False)
                self.writes += 1
                fans.ask(QUESTIONS[self.reads % len(QUESTIONS)])
                self.reads += 1
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def wait_for(self, writes: int) -> None:
        while self.writes < writes and not self.errors and self.is_alive():
            self.stop.wait(0.05)


def test_backup_while_in_use_and_restore_into_a_new_data_dir(
    cli_main, embedder, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _fill(cli_main, data)
    before = _answers(cli_main, data)
    assert any(a["citations"] for a in before)

    busy = Busy(data, embedder, tmp_path / "scratch-notes")
    busy.folder.mkdir()
    busy.start()
    try:
        busy.wait_for(2)
        code, out, err = cli_main("--data-dir", data, "backup", tmp_path / "backup")
        assert code == 0, err
        assert "backed up" in out
        after_backup = busy.writes
        busy.wait_for(after_backup + 2)  # it kept writing after the backup, too
    finally:
        busy.stop.set()
        busy.join(60)
        busy.library.close()
    assert not busy.errors, busy.errors
    assert busy.writes >= after_backup + 2 and busy.reads >= 2

    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    kinds = {e["path"]: e["kind"] for e in manifest["files"]}
    assert kinds["greenroom.sqlite3"] == "sqlite"
    assert kinds["kb/fans/catalog.sqlite3"] == "sqlite"
    assert kinds["kb/scratch/catalog.sqlite3"] == "sqlite"
    assert kinds["chroma/chroma.sqlite3"] == "vectors"
    assert kinds["clips/ab/abcdef.mp4"] == "file"
    assert "chroma.lock" not in kinds and "chroma.writes" not in kinds
    assert not any(p.endswith(("-wal", "-shm")) for p in kinds)
    assert manifest["vectors"] == {"where": "disk"}
    assert {"greenroom", "chromadb", "sqlite", "python"} <= set(manifest["versions"])
    token = tmp_path / "backup" / "twitch_tokens.json"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600

    restored = tmp_path / "restored"
    code, out, err = cli_main("--data-dir", restored, "restore", tmp_path / "backup")
    assert code == 0, err
    assert "restored" in out

    assert _answers(cli_main, restored) == before
    code, out, err = cli_main("--data-dir", restored, "config", "show", "--guild", 42)
    assert code == 0, err
    assert "user_cooldown_seconds = 17" in out
    assert (restored / "clips" / "ab" / "abcdef.mp4").read_bytes() == (
        data / "clips" / "ab" / "abcdef.mp4"
    ).read_bytes()
    restored_token = restored / "twitch_tokens.json"
    assert restored_token.read_text() == '{"access_token": "secret"}'
    assert stat.S_IMODE(restored_token.stat().st_mode) == 0o600

    # The knowledge base written to during the backup came back whole: every chunk row has
    # its vector, and it answers from them.
    from knowledge.base import Library

    library = Library(restored, embedder)
    try:
        scratch = library.open("scratch")
        chunk_ids = [
            row[0]
            for row in sqlite3.connect(restored / "kb" / "scratch" / "catalog.sqlite3").execute(
                "SELECT chunk_id FROM chunks"
            )
        ]
        assert chunk_ids
        vectors = scratch.collection.get(ids=chunk_ids, include=[])
        assert sorted(vectors["ids"]) == sorted(chunk_ids)
        answer = scratch.ask("what is the secret word number 1?")
        assert answer.citations or answer.suggestions
    finally:
        library.close()


def test_restore_refuses_an_interrupted_backup_and_a_non_empty_data_dir(
    cli_main, embedder, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _fill(cli_main, data)
    before = _answers(cli_main, data)
    code, _, err = cli_main("--data-dir", data, "backup", tmp_path / "backup")
    assert code == 0, err

    # A backup into a folder that holds something is refused.
    code, _, err = cli_main("--data-dir", data, "backup", tmp_path / "backup")
    assert code == 2 and "not empty" in err

    # No manifest: an interrupted backup.
    shutil.copytree(tmp_path / "backup", tmp_path / "interrupted")
    (tmp_path / "interrupted" / "manifest.json").unlink()
    code, _, err = cli_main("--data-dir", tmp_path / "new", "restore", tmp_path / "interrupted")
    assert code == 2 and "interrupted" in err
    assert not (tmp_path / "new").exists()

    # A file that does not match the manifest.
    shutil.copytree(tmp_path / "backup", tmp_path / "altered")
    with (tmp_path / "altered" / "clips" / "ab" / "abcdef.mp4").open("ab") as f:
        f.write(b"x")
    code, _, err = cli_main("--data-dir", tmp_path / "new", "restore", tmp_path / "altered")
    assert code == 2 and "does not match" in err

    # A data directory in use: refused without --force, replaced with it. The process that
    # had the old store open answers from the restored one.
    other = tmp_path / "other"
    notes = tmp_path / "other-notes"
    notes.mkdir()
    (notes / "only.md").write_text("# Only\n\nThe mascot is a purple otter named Pim.\n")
    code, _, err = cli_main("--data-dir", other, "ingest", notes, "--kb", "fans")
    assert code == 0, err
    code, _, err = cli_main("--data-dir", other, "ingest", notes, "--kb", "extra")
    assert code == 0, err
    from knowledge.base import Library

    library = Library(other, embedder)
    try:
        fans = library.open("fans")
        assert fans.collection.count() < 10
        fans.ask("what is the mascot?")
        code, _, err = cli_main("--data-dir", other, "restore", tmp_path / "backup")
        assert code == 2 and "not empty" in err and "--force" in err
        assert (other / "kb" / "extra").exists()

        code, out, err = cli_main("--data-dir", other, "restore", tmp_path / "backup", "--force")
        assert code == 0, err
        assert "files it did not hold removed" in out
        assert not (other / "kb" / "extra").exists()  # what the backup did not hold is gone
        # Seen as changed by the process that had the old store open.
        assert fans.collection.count() > 10
        assert fans.catalog.stats()["chunks"] == fans.collection.count()
    finally:
        library.close()
    assert _answers(cli_main, other) == before


def test_server_mode_says_the_vectors_are_not_in_the_backup(
    cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    code, _, err = cli_main(
        "--data-dir", data, "config", "set", "--guild", 7, "user_cooldown_seconds", 3
    )
    assert code == 0, err
    (data / "chroma").mkdir()
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"an old store, before a migration")
    monkeypatch.setenv("GREENROOM_CHROMA_URL", "http://127.0.0.1:9")
    code, out, err = cli_main("--data-dir", data, "backup", tmp_path / "backup")
    assert code == 0, err
    assert "live on the Chroma server http://127.0.0.1:9" in out
    assert "not in" in out
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["vectors"]["where"] == "server"
    assert not any(e["path"].startswith("chroma/") for e in manifest["files"])
    assert any(e["path"] == "chroma.database" for e in manifest["files"])

    code, out, err = cli_main("--data-dir", tmp_path / "new", "restore", tmp_path / "backup")
    assert code == 0, err
    assert "restore did not touch the server" in out
    assert (tmp_path / "new" / "chroma.database").read_text() == (
        data / "chroma.database"
    ).read_text()


def test_no_process_writes_to_the_store_while_it_is_copied(
    cli_main, embedder, tmp_path: Path
) -> None:
    """A write that comes while the store is copied waits for the backup to finish, and the
    restored databases are self-contained files (no WAL beside them)."""
    from knowledge.backup import backup
    from knowledge.base import Library

    data = tmp_path / "data"
    code, _, err = cli_main("--data-dir", data, "ingest", EXAMPLES_NOTES, "--kb", "fans")
    assert code == 0, err
    library = Library(data, embedder)
    try:
        collection = library.open("fans").collection
        vector = embedder.encode(["a late note"])[0].tolist()
        written = threading.Event()
        copied_at: list[str] = []

        def write() -> None:
            collection.upsert(ids=["late"], embeddings=[vector], documents=["a late note"])
            written.set()

        def progress(message: str) -> None:
            copied_at.append(message)
            if "vector store" in message:  # still under the lock
                threading.Thread(target=write, daemon=True).start()
                assert not written.wait(0.5), "a write went through while the store was copied"

        result = backup(data, tmp_path / "backup", progress=progress)
        assert written.wait(30)
        assert any("vector store" in m for m in copied_at)
        assert result.vectors == "disk"
        assert collection.get(ids=["late"])["ids"] == ["late"]
    finally:
        library.close()
    assert not list((tmp_path / "backup").rglob("*.sqlite3-wal"))

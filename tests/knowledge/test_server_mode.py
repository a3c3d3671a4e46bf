"""Chroma server mode (GREENROOM_CHROMA_URL): the knowledge base on a real `chroma run` server.

One server for the module (tests/chroma_server.py); each test's data directory has a database
of its own on it. Covered: ingest, ask, incremental sync, delete, the command line ingesting in
another process while this one answers, the server killed in the middle of an ingest, the
server down, collection names, and `greenroom kb migrate --to-server`.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import chromadb
import httpx
import numpy as np
import pytest
from chromadb.config import Settings

from bot.cli_commands import ingest_paths
from ingest.connectors.spec import SourceSpec
from knowledge import indexing
from knowledge.base import Library
from knowledge.errors import KnowledgeError, StoreUnavailable
from knowledge.live_sync import LiveSync
from knowledge.migration import TOLERANCE, MigrationError, _check_batch
from knowledge.source_syncer import SourceSyncer
from knowledge.vectors import ServerVectorStore, check_collection_name, server_database
from tests.chroma_server import ChromaServer, chroma_server  # noqa: F401 - the fixture
from tests.conftest import REPO_ROOT
from tests.knowledge.test_two_processes import CLEAN, V1, V2, top, write_notes
from tests.knowledge.two_process_worker import dense_reach

KB = "shared"


def raw_client(server: ChromaServer, data_dir: Path):
    """chromadb's own client on the data directory's database, to look behind our back."""
    host, port = server.url.removeprefix("http://").split(":")
    return chromadb.HttpClient(
        host=host,
        port=int(port),
        settings=Settings(anonymized_telemetry=False),
        database=server_database(data_dir),
    )


@pytest.fixture
def server(chroma_server: ChromaServer) -> ChromaServer:  # noqa: F811 - the module's server
    """The module's server, running again after a test that stopped it."""
    yield chroma_server
    if chroma_server.proc is None:
        chroma_server.start()


def test_ingest_ask_sync_and_delete_on_a_server(server, embedder, tmp_path: Path) -> None:
    notes, data_dir = tmp_path / "notes", tmp_path / "data"
    write_notes(notes, V1)
    library = Library(data_dir, embedder, chroma_url=server.url)
    try:
        kb, first = ingest_paths(library, KB, [notes], progress=False)
        assert first.summary().startswith("added 3, updated 0, unchanged 0, removed 0")
        assert not (data_dir / "chroma").exists()  # nothing on disk but the catalogs
        assert kb.stats()["store"] == (
            f"chroma server {server.url} (database {server_database(data_dir)})"
        )
        shelf = top(kb, "where does the zanzibarquux plushie sit")
        assert shelf[0].endswith("shelf.md") and shelf[1]
        answer = kb.ask("how was the stream intro edited, in which program?")
        assert "DaVinci Resolve" in answer.text + "".join(s.passage for s in answer.suggestions)

        # Incremental: one kept, one changed, one deleted, two added; only what changed is
        # embedded, and the server holds exactly the catalog's chunks.
        write_notes(notes, V2)
        _, second = ingest_paths(library, KB, [notes], progress=False)
        assert second.summary().startswith("added 2, updated 1, unchanged 1, removed 1")
        assert second.chunks_embedded == kb.catalog.stats()["chunks"] - 1  # intro.md kept
        assert dense_reach(kb) == CLEAN
        assert kb.collection.count() == kb.catalog.stats()["chunks"]
        emotes = top(kb, "who drew the quokkafrobnitz emotes")
        assert emotes[0].endswith("emotes.md") and emotes[1]
        assert kb.catalog.lexical_search("zanzibarquux", 5) == []

        # Unchanged notes: nothing embedded, nothing written.
        _, third = ingest_paths(library, KB, [notes], progress=False)
        assert third.summary().startswith("added 0, updated 0, unchanged 4, removed 0")
        assert third.chunks_embedded == 0

        # Deleting the knowledge base deletes its collection on the server.
        collection = kb.collection_name
        assert collection in [c.name for c in raw_client(server, data_dir).list_collections()]
        assert library.remove(KB)
        assert collection not in library.vectors.names()
        assert collection not in [c.name for c in raw_client(server, data_dir).list_collections()]
    finally:
        library.close()


def test_each_data_directory_has_its_own_database(server, embedder, tmp_path: Path) -> None:
    """Two installs sharing a server, both with a knowledge base named `default`, never touch
    each other's vectors (a sync removes vectors its catalog does not know)."""
    notes = tmp_path / "notes"
    write_notes(notes, V1)
    one = Library(tmp_path / "one", embedder, chroma_url=server.url)
    two = Library(tmp_path / "two", embedder, chroma_url=server.url)
    try:
        ingest_paths(one, "default", [notes], progress=False)
        kb_two, _ = ingest_paths(two, "default", [notes / "intro.md"], progress=False)
        assert one.open("default").collection_name == kb_two.collection_name
        assert server_database(tmp_path / "one") != server_database(tmp_path / "two")
        assert dense_reach(one.open("default")) == CLEAN
        assert one.open("default").collection.count() == 3
        assert kb_two.collection.count() == 1
        # The same data directory always finds its database again.
        again = Library(tmp_path / "one", embedder, chroma_url=server.url)
        assert again.open("default").collection.count() == 3
        again.close()
    finally:
        one.close()
        two.close()


def test_collection_names_are_checked_as_the_server_checks_them(server, embedder, tmp_path):
    """chromadb 1.5 takes 3 to 512 characters of [A-Za-z0-9._-], a letter or digit at each end;
    the shortest and longest knowledge base names make names well inside that."""
    library = Library(tmp_path / "data", embedder, chroma_url=server.url)
    raw = raw_client(server, tmp_path / "data")
    try:
        for name in ("a", "x" * 63):
            kb = library.open(name)
            kb.collection.count()
            assert kb.collection_name in library.vectors.names()
        for name in ("ab", "abc", "a" * 512, "a" * 513, "-abc", "abc-", "a b c", "kb-é-1"):
            try:
                raw.get_or_create_collection(name)
                accepted = True
                raw.delete_collection(name)
            except (ValueError, chromadb.errors.ChromaError):
                accepted = False
            try:
                check_collection_name(name)
                ours = True
            except KnowledgeError:
                ours = False
            assert ours == accepted, name
        with pytest.raises(KnowledgeError, match="3 to 512 characters"):
            library.vectors.collection("ab")
    finally:
        library.close()


CLI = [sys.executable, "-m", "bot.cli"]


def test_cli_ingest_in_another_process_while_this_one_answers(
    server, embedder, tmp_path: Path
) -> None:
    """The bot's side (this process) keeps answering while `greenroom ingest` (a process of
    its own, reading GREENROOM_CHROMA_URL) changes the knowledge base, and sees every change at
    once: no reopening, no lock, no restart."""
    notes, data_dir = tmp_path / "notes", tmp_path / "data"
    write_notes(notes, V1)
    library = Library(data_dir, embedder, chroma_url=server.url)
    try:
        kb, _ = ingest_paths(library, KB, [notes], progress=False)
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
                stop.wait(0.02)  # fans ask now and then; the CLI needs the cores too

        readers = [threading.Thread(target=serve) for _ in range(2)]
        for reader in readers:
            reader.start()
        try:
            done = subprocess.run(
                [*CLI, "--data-dir", str(data_dir), "ingest", "--no-progress", "--kb", KB, notes],
                cwd=tmp_path,  # no stray .env
                env=os.environ | {"GREENROOM_CHROMA_URL": server.url, "PYTHONPATH": str(REPO_ROOT)},
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        assert done.returncode == 0, done.stderr[-3000:]
        assert "added 2, updated 1, unchanged 1, removed 1" in done.stdout
        assert not errors, errors[:3]
        assert len(answered) > 10
        assert not (data_dir / "chroma").exists()  # the CLI used the server too

        assert dense_reach(kb) == CLEAN
        emotes = top(kb, "who drew the quokkafrobnitz emotes")
        assert emotes[0].endswith("emotes.md") and emotes[1]
        brb = top(kb, "what does the BRB screen show, the moth study loop")
        assert brb[0].endswith("brb.md") and brb[1]
        assert kb.collection.count() == kb.catalog.stats()["chunks"]
    finally:
        library.close()


def test_server_killed_mid_ingest_the_next_run_completes(
    server, embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, data_dir = tmp_path / "notes", tmp_path / "data"
    write_notes(notes, V1)
    library = Library(data_dir, embedder, chroma_url=server.url)
    try:
        kb, _ = ingest_paths(library, KB, [notes], progress=False)
        before = kb.catalog.chunk_ids()

        # The server is killed (SIGKILL) once the first of several upserts has been stored.
        monkeypatch.setattr(indexing, "UPSERT_CHUNKS", 2)
        store = library.vectors
        original = store._call
        upserts: list[int] = []

        def call(name, method, args, kwargs):
            result = original(name, method, args, kwargs)
            if method == "upsert":
                upserts.append(len(kwargs["ids"]))
                if len(upserts) == 1:
                    server.stop(kill=True)
            return result

        monkeypatch.setattr(store, "_call", call)
        write_notes(notes, V2)
        with pytest.raises(StoreUnavailable, match="does not answer"):
            ingest_paths(library, KB, [notes], progress=False)
        assert upserts == [2]

        # Down: no half answer, a clear error.
        with pytest.raises(StoreUnavailable):
            kb.ask("who drew the quokkafrobnitz emotes")

        # Back up, before any new run: the catalog is still all of V1, and every answer comes
        # from it; the two vectors stored before the kill are on the server, but no search
        # returns them (no chunk row points at them).
        server.start()
        assert kb.catalog.chunk_ids() == before
        reach = dense_reach(kb)
        assert reach["missing"] == [] and len(reach["extra"]) == 2
        brb = kb.search("what does the BRB screen show", k=5)
        assert brb[0].chunk.doc_id.endswith("brb.md") and "rainy window" in brb[0].chunk.text
        for question in ("who drew the quokkafrobnitz emotes", "when are mods picked"):
            hits = kb.search(question, k=10)
            assert {h.chunk.chunk_id for h in hits} <= before
            answer = kb.ask(question)
            assert "quokkafrobnitz" not in answer.text and "January" not in answer.text

        # The next run completes: the vectors stored before the kill are reused, not embedded.
        _, report = ingest_paths(library, KB, [notes], progress=False)
        assert report.summary().startswith("added 2, updated 1, unchanged 1, removed 1")
        assert report.chunks_reused == 2
        assert dense_reach(kb) == CLEAN
        assert top(kb, "who drew the quokkafrobnitz emotes")[0].endswith("emotes.md")
    finally:
        library.close()


def test_server_down_is_a_clear_error_and_recovers(
    server, embedder, tmp_path: Path, cli_main, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, data_dir = tmp_path / "notes", tmp_path / "data"
    write_notes(notes, V1)
    library = Library(data_dir, embedder, chroma_url=server.url)
    try:
        kb, _ = ingest_paths(library, KB, [notes], progress=False)
        chunks = kb.catalog.stats()["chunks"]
        server.stop()

        expected = f"The knowledge base is unavailable: the Chroma server at {server.url}"
        with pytest.raises(StoreUnavailable, match="does not answer") as down:
            kb.ask("where does the zanzibarquux plushie sit")
        assert str(down.value).startswith(expected)
        assert isinstance(down.value, KnowledgeError)
        write_notes(notes, V2)
        with pytest.raises(StoreUnavailable):
            ingest_paths(library, KB, [notes], progress=False)
        assert kb.catalog.stats()["chunks"] == chunks  # nothing half-done
        with pytest.raises(StoreUnavailable):  # a process starting meanwhile
            Library(tmp_path / "other", embedder, chroma_url=server.url)

        # The command line says so, without a traceback.
        monkeypatch.setenv("GREENROOM_CHROMA_URL", server.url)
        code, out, err = cli_main(
            "--data-dir", data_dir, "ask", "where is the plushie?", "--kb", KB
        )
        assert code == 2 and out == ""
        assert f"greenroom: {expected}" in err and "Traceback" not in err

        # Back up: the same objects answer again, nothing to reopen.
        server.start()
        shelf = top(kb, "where does the zanzibarquux plushie sit")
        assert shelf[0].endswith("shelf.md") and shelf[1]
        code, out, err = cli_main(
            "--data-dir", data_dir, "ask", "where is the plushie?", "--kb", KB
        )
        assert code == 0, err
    finally:
        library.close()


def test_bad_server_addresses_are_refused(embedder, tmp_path: Path) -> None:
    for url in ("chroma:8000", "ftp://chroma:8000", "http://chroma:8000/api", "http://:8000"):
        with pytest.raises(KnowledgeError, match="not a Chroma server address"):
            ServerVectorStore(url, embedder, "greenroom-test")
    with pytest.raises(KnowledgeError, match="not a Chroma server address"):
        ServerVectorStore("http://chroma:99999", embedder, "greenroom-test")

    # Something else at that address (a web server): said plainly, before chromadb is asked.
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{web.server_address[1]}"
        with pytest.raises(StoreUnavailable, match=r"does not answer \(HTTP 501 for /api/v2/"):
            ServerVectorStore(url, embedder, "greenroom-test")
    finally:
        web.shutdown()
        web.server_close()


def test_migrate_copies_the_store_on_disk_to_the_server(
    server, embedder, tmp_path: Path, cli_main, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, data_dir = tmp_path / "notes", tmp_path / "data"
    write_notes(notes, V2)
    questions = [
        "who drew the quokkafrobnitz emotes",
        "how was the stream intro clip edited",
        "when are mods picked",
    ]

    def answers() -> list[dict]:
        found = []
        for question in questions:
            code, out, err = cli_main("--data-dir", data_dir, "ask", question, "--kb", KB, "--json")
            assert code == 0, err
            found.append(json.loads(out))
        return found

    assert cli_main("--data-dir", data_dir, "ingest", notes, "--kb", KB)[0] == 0
    on_disk = answers()
    disk = Library(data_dir, embedder)
    name = disk.open(KB).collection_name
    stored = disk.vectors.collection(name).get(include=["embeddings", "metadatas"])
    disk.close()

    # Nothing is embedded by the migration.
    def no_model(*args, **kwargs):
        raise AssertionError("the migration embedded something")

    with monkeypatch.context() as patch:
        patch.setattr(embedder, "encode", no_model)
        code, out, err = cli_main(
            "--data-dir", data_dir, "kb", "migrate", "--to-server", server.url
        )
    assert code == 0, err
    vectors = len(stored["ids"])
    assert f"copied {name}: {vectors} vectors, checked" in out
    assert f"migrated 1 collections, {vectors} vectors to chroma server {server.url}" in out
    assert f"{KB}: {vectors} chunks, {vectors} vectors on the server\n" in out
    assert f"Set GREENROOM_CHROMA_URL={server.url}" in out

    # The server holds the same vectors and metadata, in a collection made the same way.
    copy = raw_client(server, data_dir).get_collection(name)
    got = copy.get(include=["embeddings", "metadatas"])
    assert sorted(got["ids"]) == sorted(stored["ids"])
    by_id = dict(
        zip(got["ids"], zip(got["embeddings"], got["metadatas"], strict=True), strict=True)
    )
    for cid, vector, meta in zip(
        stored["ids"], stored["embeddings"], stored["metadatas"], strict=True
    ):
        difference = np.abs(np.asarray(by_id[cid][0]) - np.asarray(vector))
        assert difference.max() <= TOLERANCE  # the server's float parsing: ~1e-8 at most
        assert by_id[cid][1] == meta
    assert copy.configuration_json["hnsw"]["space"] == "cosine"
    assert copy.configuration_json["hnsw"]["ef_search"] == 128
    assert copy.metadata == {"embedder": embedder.fingerprint()}

    # In server mode the same questions get the same answers, and a sync finds nothing to do.
    monkeypatch.setenv("GREENROOM_CHROMA_URL", server.url)
    assert answers() == on_disk
    code, out, _ = cli_main("--data-dir", data_dir, "ingest", notes, "--kb", KB)
    assert code == 0 and "added 0, updated 0, unchanged 4, removed 0" in out
    assert "(0 chunks embedded" in out

    # Migrating again replaces the copy: what the server holds beyond it goes.
    copy.upsert(ids=["stray"], embeddings=[np.ones(embedder.dim, dtype=np.float32)])
    monkeypatch.delenv("GREENROOM_CHROMA_URL")
    code, out, err = cli_main("--data-dir", data_dir, "kb", "migrate", "--to-server", server.url)
    assert code == 0, err
    assert f"copied {name}: {vectors} vectors, checked, 1 left over on the server removed" in out
    assert copy.count() == vectors

    # A server that is down: a clear message, nothing else.
    server.stop()
    code, out, err = cli_main("--data-dir", data_dir, "kb", "migrate", "--to-server", server.url)
    assert code == 2 and "does not answer" in err and "Traceback" not in err
    code, out, err = cli_main(
        "--data-dir", tmp_path / "empty", "kb", "migrate", "--to-server", server.url
    )
    assert code == 2 and "there is no vector store on disk" in err


async def test_a_folder_changed_while_the_server_is_down_is_synced_when_it_is_back(
    server, embedder, tmp_path: Path
) -> None:
    notes, data_dir = tmp_path / "notes", tmp_path / "data"
    write_notes(notes, V1)
    library = Library(data_dir, embedder, chroma_url=server.url)
    syncer = SourceSyncer(library, httpx.AsyncClient(trust_env=False))
    try:
        await syncer.add(KB, SourceSpec("folder", str(notes)))
        kb = library.open(KB)
        live = LiveSync(syncer)
        assert await live.check_folders() == []  # the first poll takes the fingerprint
        await asyncio.to_thread(server.stop)
        write_notes(notes, V2)
        assert await live.check_folders() == []  # a change is seen, held for a poll
        with pytest.raises(StoreUnavailable):
            await live.check_folders()  # its sync cannot store: not taken as synced
        assert kb.catalog.lexical_search("quokkafrobnitz", 5) == []
        with pytest.raises(StoreUnavailable):
            await live.check_folders()
        await asyncio.to_thread(server.start)
        (outcome,) = await live.check_folders()
        assert outcome.report.summary().startswith("added 2, updated 1, unchanged 1, removed 1")
        assert await live.check_folders() == []
        assert dense_reach(kb) == CLEAN
    finally:
        await syncer.aclose()
        library.close()


def test_the_migration_check_tells_a_float_rounding_from_a_wrong_vector() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sent = {"ids": ["a", "b", "c"], "embeddings": vectors, "metadatas": [{"x": 1}, None, {}]}
    rounded = vectors + np.float32(1e-8) * np.sign(vectors)
    stored = {
        "ids": ["c", "a", "b"],
        "embeddings": rounded[[2, 0, 1]],
        "metadatas": [{}, {"x": 1}, None],
    }
    _check_batch("kb-x-0123456789", sent, stored)  # any order, one float32 step apart
    for changed in (
        {"embeddings": rounded[[2, 1, 0]]},  # a's vector stored under b
        {"metadatas": [{}, {"x": 2}, None]},
        {"ids": ["c", "a", "z"]},
    ):
        with pytest.raises(MigrationError, match="differs from the store on disk"):
            _check_batch("kb-x-0123456789", sent, stored | changed)

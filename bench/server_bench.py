"""Chroma server mode against the store on disk, on the corpus, in one run: the time
`greenroom kb migrate --to-server` takes for the corpus's collection, then query latency of
both stores over the same catalog, interleaved query by query.

    python bench/server_bench.py [--data-dir D --kb corpus] [--rounds 2]

`--data-dir D --kb NAME` reuses a data directory whose knowledge base holds the corpus on disk
(e.g. built with `greenroom --data-dir D ingest ../shared/corpus --kb corpus`); without it the
corpus is ingested into a scratch directory first (several minutes). A `chroma run` server is
started on a free loopback port with its data in a scratch directory; the migration writes
`chroma.database` (the data directory's database name on servers) into D, nothing else.

Per question (eval/corpus_questions.jsonl, `--rounds` times, order alternating), each store:
  dense   = collection.query of the question's vector for 100 neighbours with metadata and
            distances (the call retrieval makes; the vector is encoded once, outside the timing)
  search  = KnowledgeBase.search(k=5)   ask = KnowledgeBase.ask
p50/p95 of each, and how often both stores return the same top 5. Writes
bench/results/server.json.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from ingest.loaders import FolderSource  # noqa: E402
from knowledge.base import Library  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402
from knowledge.migration import migrate_to_server  # noqa: E402
from knowledge.vectors import ServerVectorStore, server_database  # noqa: E402

WARMUP = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(path: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        env=os.environ | {"ANONYMIZED_TELEMETRY": "False"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("chroma run did not start")


def corpus_questions() -> list[str]:
    path = _common.REPO / "eval" / "corpus_questions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--kb", default="corpus")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="server-bench-"))
    embedder = Embedder()
    data_dir = args.data_dir or scratch / "corpus"
    disk = Library(data_dir, embedder)
    if not disk.exists(args.kb):
        print(f"ingesting {_common.DEFAULT_CORPUS} into {data_dir} (several minutes)")
        disk.open(args.kb).sync([FolderSource(_common.DEFAULT_CORPUS, name="corpus")])
    kb_disk = disk.open(args.kb)
    chunks = kb_disk.catalog.stats()["chunks"]

    proc, url = start_server(scratch / "chroma-server")
    try:
        target = ServerVectorStore(url, embedder, server_database(data_dir))
        migration = migrate_to_server(disk.vectors, target)
        copied = {c.name: c for c in migration.collections}[kb_disk.collection_name]
        print(
            f"migrate: {migration.vectors:,} vectors in {len(migration.collections)} collections,"
            f" {migration.seconds:.2f} s ({copied.vectors:,} of the corpus's collection in"
            f" {copied.seconds:.2f} s, copy and read-back check)"
        )
        server = Library(data_dir, embedder, chroma_url=url)
        kb_server = server.open(args.kb)
        stores = {"disk": kb_disk, "server": kb_server}

        questions = corpus_questions()
        times: dict[str, dict[str, list[float]]] = {
            name: {"dense": [], "search": [], "ask": []} for name in stores
        }
        same_top5 = 0
        for q in questions[:WARMUP]:  # indexes loaded, connections open
            for kb in stores.values():
                kb.search(q, k=5)
        for round_ in range(args.rounds):
            for n, q in enumerate(questions):
                vector = embedder.encode_query(q)
                order = list(stores.items())
                if (n + round_) % 2:
                    order.reverse()
                tops = {}
                for name, kb in order:
                    collection = kb.collection
                    t0 = time.perf_counter()
                    collection.query(
                        query_embeddings=[vector],
                        n_results=100,
                        include=["metadatas", "distances"],
                    )
                    t1 = time.perf_counter()
                    hits = kb.search(q, k=5)
                    t2 = time.perf_counter()
                    kb.ask(q)
                    t3 = time.perf_counter()
                    times[name]["dense"].append(t1 - t0)
                    times[name]["search"].append(t2 - t1)
                    times[name]["ask"].append(t3 - t2)
                    tops[name] = [h.chunk.chunk_id for h in hits]
                same_top5 += tops["disk"] == tops["server"]
        samples = len(questions) * args.rounds
        summary = {
            name: {op: _common.latency_summary(values) for op, values in ops.items()}
            for name, ops in times.items()
        }
        rows = []
        for op in ("dense", "search", "ask"):
            d, s = summary["disk"][op], summary["server"][op]
            rows.append(
                [
                    op,
                    d["p50_ms"],
                    d["p95_ms"],
                    s["p50_ms"],
                    s["p95_ms"],
                    s["p50_ms"] - d["p50_ms"],
                ]
            )
        print(f"{chunks:,} chunks, {samples} questions per store, interleaved")
        _common.print_table(
            rows, ["ms", "disk p50", "disk p95", "server p50", "server p95", "p50 +"]
        )
        print(f"same top 5 in both stores: {same_top5}/{samples}")
        path = _common.write_results(
            "server",
            {
                "machine": _common.machine_note(),
                "kb": args.kb,
                "chunks": chunks,
                "migration": {
                    "vectors": migration.vectors,
                    "collections": len(migration.collections),
                    "seconds": round(migration.seconds, 3),
                    "corpus_collection_seconds": round(copied.seconds, 3),
                },
                "queries": samples,
                "latency": summary,
                "same_top5": same_top5,
            },
        )
        print(f"wrote {path}")
        server.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        disk.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Ingest throughput against the bare model, in one run: cold, unchanged and one-file re-syncs.

    python bench/ingest_bench.py [--corpus ../shared/corpus] [--limit-files N] [--profile]

Runs, in a temporary data dir over a temporary copy of the corpus (the copy is edited in (d)):
  (b) baseline: the same chunks' `embed_text`s through `embedder.model.encode` (batch 32,
      normalised), after a warm-up encode; chunks are made beforehand, untimed;
  (a) cold ingest through `KnowledgeBase.sync([FolderSource])`; ratio (b)/(a), target >= 0.85;
  (c) re-sync with nothing changed, target <= 2% of (a);
  (d) re-sync after appending a paragraph to the file with the most chunks;
  (e) a probe of torch intra-op threads 1 vs 2 on a sample of chunks (OMP_NUM_THREADS=1, as
      set by `greenroom`, also leaves torch one thread).
Wall time of (a), (c), (d) is split by phase (load, chunk, encode, chroma, catalog) with
wrappers around the product's calls. Prints a table; writes bench/results/ingest.json.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import knowledge.indexing  # noqa: E402
from ingest.chunking import chunk_document  # noqa: E402
from ingest.documents import Document, LoadResult  # noqa: E402
from ingest.loaders import FolderSource  # noqa: E402
from knowledge.base import KnowledgeBase, Library  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402

APPENDED = (
    "\n\n## Bench edit\n\nThis paragraph was appended by bench/ingest_bench.py to measure an"
    " incremental sync: only the chunks whose text changed should be embedded again, and every"
    " other chunk of this document should keep its vector.\n"
)


class TimedCollection:
    """A chroma collection whose calls are timed under `chroma` (attributes pass through)."""

    def __init__(self, collection: Any, timer: _common.PhaseTimer) -> None:
        self._collection = collection
        self._timer = timer

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._collection, name)
        if callable(value) and name in {"add", "upsert", "update", "get", "delete", "count"}:
            return self._timer.wrap("chroma", value)
        return value


class TimedSource:
    """A source whose document loading (read + parse, lazily, during planning) is timed."""

    def __init__(self, source: FolderSource, timer: _common.PhaseTimer) -> None:
        self._source = source
        self._timer = timer

    @property
    def source_name(self) -> str:
        return self._source.source_name

    def load(self) -> Iterator[LoadResult]:
        return self._timer.iterate("load", self._source.load())


def instrument(library: Library, kb: KnowledgeBase, timer: _common.PhaseTimer) -> None:
    """Wrap the product's calls on these instances (and sync's chunker) to time each phase."""
    embedder = library.embedder
    embedder.encode = timer.wrap("encode", embedder.encode)  # type: ignore[method-assign]
    open_collection = library.vectors.collection

    def collection(name: str) -> TimedCollection:
        with timer.phase("chroma_open"):
            return TimedCollection(open_collection(name), timer)

    library.vectors.collection = collection  # type: ignore[method-assign]
    kb.catalog.transaction = _timed_context(timer, "catalog_write", kb.catalog.transaction)
    kb.catalog.chunk_ids = timer.wrap("catalog_read", kb.catalog.chunk_ids)
    kb.catalog.documents = timer.wrap("catalog_read", kb.catalog.documents)
    knowledge.indexing.chunk_document = timer.wrap("chunk", chunk_document)


def _timed_context(timer: _common.PhaseTimer, name: str, factory: Any) -> Any:
    from contextlib import contextmanager

    @contextmanager
    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with timer.phase(name), factory(*args, **kwargs) as value:
            yield value

    return timed


def copy_corpus(corpus: Path, dest: Path, limit: int | None) -> list[str]:
    """Copy the files the folder loader takes (evenly spread when limited); their rel paths."""
    files = list(FolderSource(corpus).paths())
    if limit and limit < len(files):
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    for path, rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return [rel for _, rel in files]


def timed_sync(kb: KnowledgeBase, source: TimedSource, timer: _common.PhaseTimer, profile=None):
    timer.reset()
    cpu, started = time.process_time(), time.perf_counter()
    report = profile.runcall(kb.sync, [source]) if profile is not None else kb.sync([source])
    wall = time.perf_counter() - started
    return report, wall, time.process_time() - cpu, timer.snapshot(wall)


def report_dict(report: Any) -> dict[str, Any]:
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "failed": len(report.failed),
        "chunks_embedded": report.chunks_embedded,
        "chunks_reused": report.chunks_reused,
        "report_seconds": round(report.seconds, 3),
    }


def raw_encode(embedder: Embedder, texts: list[str]) -> tuple[float, float]:
    cpu, started = time.process_time(), time.perf_counter()
    embedder.model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started, time.process_time() - cpu


def thread_probe(embedder: Embedder, texts: list[str]) -> dict[str, Any]:
    """Chunks/s with torch at 1 and 2 intra-op threads, in A-B-B-A order to cancel drift."""
    import torch

    before = torch.get_num_threads()
    times: dict[int, list[float]] = {1: [], 2: []}
    try:
        for threads in (1, 2, 2, 1):
            torch.set_num_threads(threads)
            wall, _ = raw_encode(embedder, texts)
            times[threads].append(wall)
    finally:
        torch.set_num_threads(before)
    one, two = sum(times[1]) / 2, sum(times[2]) / 2
    return {
        "texts": len(texts),
        "torch_threads_default": before,
        "chunks_per_s_1_thread": round(len(texts) / one, 2),
        "chunks_per_s_2_threads": round(len(texts) / two, 2),
        "speedup_2_vs_1": round(one / two, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=_common.DEFAULT_CORPUS)
    parser.add_argument("--limit-files", type=int, default=None, help="a quick run on N files")
    parser.add_argument("--out", type=Path, default=_common.RESULTS / "ingest.json")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the cold ingest (distorts its time)"
    )
    parser.add_argument(
        "--thread-probe", type=int, default=128, help="chunks for the torch threads probe (0: off)"
    )
    parser.add_argument(
        "--thread-probe-only",
        action="store_true",
        help="only the threads probe (needs idle cores to mean anything); threads_probe.json",
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"{args.corpus} is not a folder")

    machine = _common.machine_note()
    with tempfile.TemporaryDirectory(prefix="greenroom-ingest-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = copy_corpus(args.corpus.resolve(), corpus, args.limit_files)
        print(f"corpus copy: {len(files)} files from {args.corpus}", file=sys.stderr)

        started = time.perf_counter()
        embedder = Embedder()
        load_seconds = time.perf_counter() - started
        library = Library(Path(tmp) / "data", embedder)
        kb = library.open("bench")
        source = FolderSource(corpus)

        # Chunks exactly as sync makes them (same loader, chunker settings and tokenizer).
        docs = [r for r in source.load() if isinstance(r, Document)]
        chunks_by_doc = {d.doc_id: chunk_document(d, embedder, kb.chunker) for d in docs}
        texts = [c.embed_text for chunks in chunks_by_doc.values() for c in chunks]
        longest = sorted(texts, key=len, reverse=True)[:64]
        embedder.model.encode(longest, batch_size=32, normalize_embeddings=True)  # warm-up
        print(f"{len(docs)} documents, {len(texts)} chunks", file=sys.stderr)
        if args.thread_probe_only:
            step = max(1, len(texts) // args.thread_probe)
            probe = thread_probe(embedder, texts[::step][: args.thread_probe])
            probe |= {"machine": machine, "machine_after": _common.machine_note()["loadavg_1_5_15"]}
            print(json.dumps(probe, indent=2))
            _common.write_results("threads_probe.json", probe)
            return 0

        # (b) the floor: the bare model on exactly these texts.
        raw_wall, raw_cpu = raw_encode(embedder, texts)

        # (a) cold ingest through the product.
        timer = _common.PhaseTimer()
        instrument(library, kb, timer)
        timed = TimedSource(source, timer)
        print("cold ingest...", file=sys.stderr)
        profile = cProfile.Profile() if args.profile else None
        cold, cold_wall, cold_cpu, cold_phases = timed_sync(kb, timed, timer, profile)
        if cold.chunks_embedded != len(texts):
            print(
                f"warning: sync embedded {cold.chunks_embedded} chunks, baseline {len(texts)}",
                file=sys.stderr,
            )

        # (c) nothing changed.
        same, same_wall, same_cpu, same_phases = timed_sync(kb, timed, timer)

        # (d) one file changed: the document with the most chunks, so reuse shows.
        doc_id, old_chunks = max(chunks_by_doc.items(), key=lambda kv: len(kv[1]))
        edited = next(d for d in docs if d.doc_id == doc_id).path
        with (corpus / edited).open("a", encoding="utf-8") as fh:
            fh.write(APPENDED)
        one, one_wall, one_cpu, one_phases = timed_sync(kb, timed, timer)
        new_chunks = kb.catalog.documents()[doc_id].chunk_count

        probe = None
        if args.thread_probe:
            print("torch threads probe...", file=sys.stderr)
            step = max(1, len(texts) // args.thread_probe)
            probe = thread_probe(embedder, texts[::step][: args.thread_probe])

        stats = kb.catalog.stats()
        library.close()

    cold_rate = cold.chunks_embedded / cold_wall if cold_wall else 0.0
    results: dict[str, Any] = {
        "machine": machine,
        "machine_after": _common.machine_note()["loadavg_1_5_15"],
        "args": {"corpus": str(args.corpus), "limit_files": args.limit_files},
        "files": len(files),
        "documents": stats["documents"],
        "chunks": stats["chunks"],
        "model_load_seconds": round(load_seconds, 2),
        "torch_threads": _torch_threads(),
        "cold": {
            "wall_s": round(cold_wall, 3),
            "cpu_s": round(cold_cpu, 3),
            "chunks_per_s": round(cold_rate, 2),
            "profiled": bool(args.profile),
            **report_dict(cold),
            "phases": cold_phases,
        },
        "baseline_raw_encode": {
            "texts": len(texts),
            "wall_s": round(raw_wall, 3),
            "cpu_s": round(raw_cpu, 3),
            "chunks_per_s": round(len(texts) / raw_wall, 2),
        },
        "ratio_raw_encode_over_ingest_wall": round(raw_wall / cold_wall, 4),
        "ratio_raw_encode_over_ingest_cpu": round(raw_cpu / cold_cpu, 4) if cold_cpu else None,
        # Less sensitive to other processes: the share of the ingest spent outside the model,
        # and the model's speed inside the ingest compared with the bare baseline.
        "ingest_share_outside_encode": round(1 - cold_phases["encode"]["share"], 4),
        "ratio_raw_encode_over_ingest_encode_phase": round(
            raw_wall / cold_phases["encode"]["seconds"], 4
        ),
        "unchanged": {
            "wall_s": round(same_wall, 3),
            "cpu_s": round(same_cpu, 3),
            "share_of_cold": round(same_wall / cold_wall, 5),
            **report_dict(same),
            "phases": same_phases,
        },
        "one_file_changed": {
            "file": edited,
            "chunks_before": len(old_chunks),
            "chunks_after": new_chunks,
            "wall_s": round(one_wall, 3),
            "cpu_s": round(one_cpu, 3),
            "share_of_cold": round(one_wall / cold_wall, 5),
            **report_dict(one),
            "phases": one_phases,
        },
        "threads_probe": probe,
        "targets": {"ratio_min": 0.85, "unchanged_share_max": 0.02},
    }
    if profile is not None:
        prof_path = _common.RESULTS / "ingest_cold.prof"
        prof_path.parent.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(prof_path)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
        results["profile_file"] = str(prof_path)

    print_summary(results)
    path = _common.write_results("ingest.json", results, args.out)
    print(f"\nwrote {path}")
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def print_summary(r: dict[str, Any]) -> None:
    cold, raw, same, one = (
        r["cold"],
        r["baseline_raw_encode"],
        r["unchanged"],
        r["one_file_changed"],
    )
    m = r["machine"]
    print(
        f"\ningest bench {m['date']}  cpus={m['cpus']} load(1,5,15)={m['loadavg_1_5_15']}"
        f" -> {r['machine_after']}  torch threads={r['torch_threads']}"
    )
    print(f"{r['files']} files, {r['documents']} documents, {r['chunks']} chunks\n")
    _common.print_table(
        [
            (
                "(a) cold ingest (sync)",
                cold["wall_s"],
                cold["cpu_s"],
                cold["chunks_embedded"],
                cold["chunks_per_s"],
            ),
            (
                "(b) raw model.encode",
                raw["wall_s"],
                raw["cpu_s"],
                raw["texts"],
                raw["chunks_per_s"],
            ),
            ("(c) re-sync, unchanged", same["wall_s"], same["cpu_s"], same["chunks_embedded"], ""),
            ("(d) re-sync, 1 file edited", one["wall_s"], one["cpu_s"], one["chunks_embedded"], ""),
        ],
        ["run", "wall s", "cpu s", "chunks embedded", "chunks/s"],
    )
    ratio = r["ratio_raw_encode_over_ingest_wall"]
    share = same["share_of_cold"]
    print(
        f"\nraw encode / ingest wall = {ratio:.3f} (target >= 0.85: "
        f"{'ok' if ratio >= 0.85 else 'MISSED'});  cpu-time ratio"
        f" {r['ratio_raw_encode_over_ingest_cpu']}"
    )
    print(
        f"share of the ingest outside encode = {r['ingest_share_outside_encode']:.2%};"
        f" raw encode / encode inside ingest = {r['ratio_raw_encode_over_ingest_encode_phase']:.3f}"
        " (1.0 = same model speed; below 1 = the machine was busier during the ingest)"
    )
    print(
        f"unchanged re-sync = {share:.2%} of cold (target <= 2%:"
        f" {'ok' if share <= 0.02 else 'MISSED'})"
    )
    print(
        f"one file edited ({one['file']}): {one['chunks_before']} -> {one['chunks_after']}"
        f" chunks, {one['chunks_embedded']} embedded, {one['chunks_reused']} reused,"
        f" {one['wall_s']:.2f} s"
    )
    for label, phases in (
        ("cold", cold["phases"]),
        ("unchanged", same["phases"]),
        ("1 file", one["phases"]),
    ):
        parts = ", ".join(
            f"{name} {p['seconds']:.2f}s ({p['share']:.0%})" for name, p in phases.items()
        )
        print(f"phases {label}: {parts}")
    if r["threads_probe"]:
        p = r["threads_probe"]
        print(
            f"torch threads probe ({p['texts']} chunks): 1 thread {p['chunks_per_s_1_thread']}"
            f" chunks/s, 2 threads {p['chunks_per_s_2_threads']} chunks/s"
            f" (x{p['speedup_2_vs_1']})"
        )


if __name__ == "__main__":
    sys.exit(main())

"""Cold ingest with window vectors and bf16 against the ingest before them, in one run.

    python bench/windows_ingest_bench.py [--corpus ../shared/corpus] [--limit-files N]
        [--rounds 1]

Each round ingests the same copy of the corpus twice, cold, into fresh data dirs, through
`KnowledgeBase.sync([FolderSource])`, one model loaded once:
  before: fp32 bulk encoding, no sentence windows and no folders in the prefix
          (`Embedder(bulk_bf16=False)`, `ChunkerSettings(window_sentences=0,
          folder_prefix=False)`): what a cold ingest did before the windows;
  now:    the defaults (bf16 autocast for bulk encoding, 3-sentence windows side by side,
          folders in the prefix).
The order alternates between rounds. Target (issue "Answers a fan can trust"):
now / before <= 1.25. Writes bench/results/windows_ingest.json.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from ingest.chunking import ChunkerSettings  # noqa: E402
from ingest.loaders import FolderSource  # noqa: E402
from knowledge.base import Library  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402


def cold_ingest(embedder: Embedder, corpus: Path, data: Path, *, windows: bool, bf16: bool):
    embedder.bulk_bf16 = bf16
    chunker = ChunkerSettings(max_tokens=embedder.max_seq_length)
    if not windows:
        chunker = ChunkerSettings(
            max_tokens=embedder.max_seq_length, window_sentences=0, folder_prefix=False
        )
    library = Library(data, embedder, chunker=chunker)
    try:
        kb = library.open("bench")
        started = time.perf_counter()
        cpu = time.process_time()
        report = kb.sync([FolderSource(corpus)])
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        passages = kb.catalog.read("SELECT count(*) FROM passages")[0][0]
    finally:
        library.close()
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "chunks": report.chunks_embedded,
        "windows": report.windows_embedded,
        "passage_rows": passages,
        "failed": len(report.failed),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=_common.DEFAULT_CORPUS)
    parser.add_argument("--limit-files", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    machine = _common.machine_note()
    embedder = Embedder()
    embedder.encode(["warm-up"] * 8)
    runs: dict[str, list[dict]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory(prefix="greenroom-windows-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.name != "SOURCES.md")
        for path in files[: args.limit_files]:
            dest = corpus / path.relative_to(args.corpus)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
        for n in range(args.rounds):
            order = ("before", "now") if n % 2 == 0 else ("now", "before")
            for name in order:
                print(f"round {n + 1}: {name}...", file=sys.stderr)
                runs[name].append(
                    cold_ingest(
                        embedder,
                        corpus,
                        Path(tmp) / f"data-{name}-{n}",
                        windows=name == "now",
                        bf16=name == "now",
                    )
                )
    before = sum(r["wall_s"] for r in runs["before"])
    now = sum(r["wall_s"] for r in runs["now"])
    result = {
        "machine": machine,
        "machine_after": _common.machine_note()["loadavg_1_5_15"],
        "code": _common.code_version(),
        "files": len(files[: args.limit_files]),
        "runs": runs,
        "ratio_now_over_before_wall": round(now / before, 3),
        "target_max": 1.25,
    }
    _common.print_table(
        [
            [name, r["wall_s"], r["cpu_s"], r["chunks"], r["windows"]]
            for name in runs
            for r in runs[name]
        ],
        ["ingest", "wall s", "cpu s", "chunks", "windows"],
    )
    print(f"\nnow / before (wall): {result['ratio_now_over_before_wall']} (target <= 1.25)")
    path = _common.write_results("windows_ingest.json", result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

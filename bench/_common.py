"""Helpers shared by the benchmark scripts: environment, timers, percentiles, result files.

Only the standard library is imported here, so a script can call `configure_environment()`
before numpy and torch load (thread limits are read once, when those libraries start).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
QUESTION_FILES = (
    REPO / "eval" / "corpus_questions.jsonl",
    REPO / "eval" / "examples_questions.jsonl",
)


def configure_environment() -> None:
    """The same limits as `greenroom` (bot/cli.py): one BLAS thread, offline model, no telemetry.

    Not OMP_NUM_THREADS: it would also hold torch to one thread (the CLI stopped setting it on
    2026-11-25; set OMP_NUM_THREADS=1 yourself to measure the old behaviour).
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def machine_note() -> dict[str, Any]:
    """What was running: the figures are only comparable within one run."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": load,
        "python": platform.python_version(),
        "code": code_version(),
        "env": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        },
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and the product files that differed from it (read-only git)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.rstrip() if done.returncode == 0 else ""

    dirty = git("status", "--porcelain", "--", "knowledge", "ingest", "bot/cli.py")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_product_files": [line[3:] for line in dirty.splitlines()],
    }


class PhaseTimer:
    """Wall seconds and calls per named phase, for a breakdown of a run without a profiler."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.calls[name] += 1

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed

    def iterate(self, name: str, items: Iterable[Any]) -> Iterator[Any]:
        """Time each step of a (lazy) iterator, such as a source's `load()`."""
        it = iter(items)
        while True:
            with self.phase(name):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def snapshot(self, total: float) -> dict[str, dict[str, float]]:
        """Each phase's seconds, calls and share of `total`; `other` is what no phase covered.

        Phases must not nest, or their time is counted twice.
        """
        out = {
            name: {
                "seconds": round(secs, 3),
                "calls": self.calls[name],
                "share": round(secs / total, 4) if total else 0.0,
            }
            for name, secs in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        }
        other = total - sum(self.seconds.values())
        out["other"] = {
            "seconds": round(other, 3),
            "calls": 0,
            "share": round(other / total, 4) if total else 0.0,
        }
        return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, like numpy's default."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_results(name: str, payload: dict[str, Any], path: Path | None = None) -> Path:
    path = path or RESULTS / (name if name.endswith(".json") else f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_questions() -> list[str]:
    """The question texts of the two evaluation sets (eval/*.jsonl)."""
    questions: list[str] = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    return questions

"""The Discord bot in-process: event-loop lag and /ask latency, against the local Discord double.

    python bench/bot_bench.py [--resync corpus|notes] [--resync-files 60] [--burst 50]
                              [--sequential 30] [--idle-seconds 5] [--asyncio-debug]
                              [--stall-stacks] [--keep-dir]

The real `GreenroomBot` (real model, chromadb, SQLite) talks to `tests.discord_double` over
HTTP and a websocket on 127.0.0.1, in the same event loop, exactly as tests/bot/test_ask.py
does (`DiscordDouble()`, `run_bot`, `bot_kwargs`, `double.slash_command`, `wait_message`).

Setup: a temporary data dir; a copy of examples/notes synced into the guild's knowledge base
(name = str(guild.id)); guild config `user_cooldown_seconds=0`,
`guild_questions_per_minute=10000`; 50 members; one untimed warm-up /ask.

A lag monitor task sleeps 10 ms in a loop and records (actual - expected) delay; each phase
reports lag p50/p99/max (and how many samples were over 100 ms):
  A  idle: the bot connected, nothing happening (--idle-seconds, default 5 s);
  B  burst: 50 /ask at once (asyncio.gather over slash_command + wait_response + wait_message),
     each from a different member; per question: ack = dispatch -> the deferral reached the
     double (Discord's 3 s deadline), latency = dispatch -> final visible message;
  C  re-sync: `asyncio.to_thread(kb.sync, [FolderSource(...)])` while /asks run one after
     another until it ends. `--resync corpus` (default) adds a fixed 60-file sample of
     /work/shared/corpus as a new source (~650 chunks, two embed batches); `--resync notes`
     appends a line to every file of the notes copy and re-syncs it (touching mtimes would
     re-embed nothing, and even this re-embeds only each file's last chunk: ~15 chunks, a light
     load);
  D  sequential: 30 /asks one after another, nothing else running (in-process /ask latency).
Questions come from eval/examples_questions.jsonl (25; cycled, so some repeat). The knowledge
base is bigger in D than in B when C added the corpus sample: chunk counts are in the output.

Target: lag p99 <= 100 ms in B and C.

Always measured alongside, to explain the figures (no product code is changed; the bench wraps
the embedder's `encode`, its lock and tokenizer calls, and the chroma collections on the
instances it built):
  * ctl p99/max: a separate, idle Python process runs the same 10 ms sleep loop. High values
    there mean the machine itself was busy (other processes), not the bot.
  * per phase: query encodes and how long they WAITED for `Embedder._lock`, the longest time a
    bulk (sync) encode HELD it, chroma upserts and their longest call, the longest tokenizer
    call; and for every lag sample over 50 ms, which timed calls covered at least half of it.
  * chroma GIL probe (before the bot starts): three upserts of 512 random vectors into a scratch
    collection while another thread tries to wake every 1 ms; ~1 wake-up per upsert means the
    upsert held the GIL throughout (every Python thread, the event loop included, waits).

Diagnostics for a missed target:
  --asyncio-debug  run the loop in asyncio debug mode with `slow_callback_duration = 0.05` and
                   report the slow callbacks ("Executing ... took N s") by phase. Debug mode
                   itself slows a busy loop a lot (it captures a stack for every callback: the
                   burst's lag p99 went from ~20 ms to ~165 ms): take lag figures from plain
                   runs only, and use this run for its list of slow callbacks.
  --stall-stacks   a watchdog thread samples the event-loop thread's Python stack whenever the
                   lag monitor has not ticked for 50 ms; the most frequent stacks are reported.
                   A stack inside the selector (`select`/`epoll`) means the loop was idle but
                   could not get the GIL (another thread held it), not that a callback blocked.

A run takes 3-5 minutes (model load, ~1-2 minutes of re-sync). `kill -USR1 <pid>` prints every
thread's stack. "Can't keep up, shard ID None websocket is 45.0s behind" in the log is a false
alarm: discord.py 2.7.1 computes heartbeat latency from a time its keep-alive thread has not yet
updated when the double's ACK arrives at once (fixed upstream in Rapptz/discord.py PR #10448).

Prints a table; writes bench/results/bot.json. Figures vary run to run (see
/work/shared/notes/measured-facts.md): compare only figures from the same run, on an idle box.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import collections  # noqa: E402
import contextlib  # noqa: E402
import faulthandler  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = _common.REPO
if str(REPO) not in sys.path:  # `tests.discord_double` and the product packages
    sys.path.insert(0, str(REPO))

from bot.app import GreenroomBot  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.settings import Settings  # noqa: E402
from ingest.loaders import FolderSource  # noqa: E402
from ingest.loaders.folder import supported_suffixes  # noqa: E402
from knowledge.base import Library  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402
from tests.discord_double import DiscordDouble, bot_kwargs, run_bot  # noqa: E402

NOTES = REPO / "examples" / "notes"
QUESTIONS = REPO / "eval" / "examples_questions.jsonl"
CORPUS = _common.DEFAULT_CORPUS
LAG_INTERVAL = 0.010
TARGET_LAG_P99_MS = 100.0
SLOW_CALLBACK_S = 0.05
STALL_S = 0.05


# -- event-loop lag -------------------------------------------------------------------------
class LagMonitor:
    """Sleeps 10 ms in a loop; each sample is (end time, actual - expected sleep)."""

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self.last_tick = time.perf_counter()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.last_tick = now
            self.samples.append((now, max(0.0, now - started - self.interval)))

    def between(self, start: float, end: float) -> list[float]:
        return [lag for t, lag in self.samples if start <= t <= end]


def lag_summary(lags: list[float]) -> dict[str, Any]:
    ms = [x * 1000 for x in lags]
    return {
        "samples": len(ms),
        "p50_ms": round(_common.percentile(ms, 50), 2),
        "p99_ms": round(_common.percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
        "over_100ms": sum(1 for x in ms if x > 100),
    }


class Phases:
    """Named wall-clock intervals (perf_counter), to split samples and diagnostics by phase."""

    def __init__(self) -> None:
        self.spans: dict[str, tuple[float, float]] = {}
        self.current = "setup"

    def begin(self, name: str) -> float:
        self.current = name
        started = time.perf_counter()
        self.spans[name] = (started, float("nan"))
        return started

    def end(self, name: str) -> float:
        ended = time.perf_counter()
        self.spans[name] = (self.spans[name][0], ended)
        self.current = "between"
        return ended

    def name_at(self, t: float) -> str:
        for name, (a, b) in self.spans.items():
            if a <= t <= (b if b == b else float("inf")):
                return name
        return "other"


# -- diagnostics ------------------------------------------------------------------------------
class SlowCallbacks(logging.Handler):
    """Captures asyncio debug mode's "Executing <handle> took N seconds" warnings."""

    _TOOK = re.compile(r"took ([0-9.]+) seconds")

    def __init__(self, phases: Phases) -> None:
        super().__init__(logging.WARNING)
        self.phases = phases
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        found = self._TOOK.search(message)
        if not message.startswith("Executing") or found is None:
            return
        self.records.append(
            {
                "phase": self.phases.name_at(time.perf_counter()),
                "seconds": float(found.group(1)),
                "handle": message[: found.start()].strip()[:400],
            }
        )

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for rec in self.records:
            phase = out.setdefault(rec["phase"], {"count": 0, "total_s": 0.0, "worst": []})
            phase["count"] += 1
            phase["total_s"] = round(phase["total_s"] + rec["seconds"], 3)
            phase["worst"].append(rec)
        for phase in out.values():
            phase["worst"] = sorted(phase["worst"], key=lambda r: -r["seconds"])[:8]
        return out


class StallSampler(threading.Thread):
    """Samples the loop thread's stack while the lag monitor is overdue by STALL_S."""

    def __init__(self, monitor: LagMonitor, phases: Phases, loop_thread: int) -> None:
        super().__init__(name="bench-stall-sampler", daemon=True)
        self.monitor = monitor
        self.phases = phases
        self.loop_thread = loop_thread
        self.stop_event = threading.Event()
        self.stacks: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.others: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.stalls: dict[str, int] = collections.Counter()
        self._sampled_tick = 0.0

    def run(self) -> None:
        while not self.stop_event.wait(0.01):
            tick = self.monitor.last_tick
            overdue = time.perf_counter() - tick - LAG_INTERVAL
            if overdue < STALL_S or tick == self._sampled_tick:
                continue
            self._sampled_tick = tick  # one sample per stall
            frame = sys._current_frames().get(self.loop_thread)
            if frame is None:
                continue
            phase = self.phases.name_at(time.perf_counter())
            self.stacks[phase][_stack_key(frame)] += 1
            self.stalls[phase] += 1
            # What the other threads were doing: one of them may have held the GIL.
            for ident, other in sys._current_frames().items():
                if ident not in (self.loop_thread, threading.get_ident()):
                    self.others[phase][_stack_key(other, 4)] += 1

    def summary(self) -> dict[str, Any]:
        return {
            phase: {
                "stalls": self.stalls[phase],
                "top_stacks": counter.most_common(6),
                "other_threads": self.others[phase].most_common(8),
            }
            for phase, counter in self.stacks.items()
        }


def _stack_key(frame: Any, depth: int = 6) -> str:
    """The innermost `depth` frames, innermost first: file:line:function <- ..."""
    stack = traceback.extract_stack(frame)[-depth:]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(stack))


# -- where the time goes: timed product calls, no product code changed -------------------------
class CallLog:
    """Timed calls into the model and chroma: (kind, n, thread, start, end[, lock wait])."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._local = threading.local()

    def add(self, kind: str, n: int, start: float, end: float, **extra: Any) -> None:
        self.calls.append(
            {"kind": kind, "n": n, "thread": threading.get_ident(), "start": start, "end": end}
            | extra
        )

    def instrument(self, library: Library) -> None:
        """Wrap the library's embedder (encode + its lock) and its chroma collections."""
        embedder = library.embedder
        encode = embedder.encode
        log = self

        def timed_encode(texts, *, query=False):  # the signature of Embedder.encode
            log._local.n = len(texts)
            started = time.perf_counter()
            try:
                return encode(texts, query=query)
            finally:
                kind = "encode.query" if query else "encode.bulk"
                log.add(kind, len(texts), started, time.perf_counter())

        embedder.encode = timed_encode
        for method in ("token_spans", "count_tokens"):  # the tokenizer, used by the chunker
            setattr(embedder, method, self._timed(f"tokenize.{method}", getattr(embedder, method)))
        # Queries and bulk encodes have separate locks; a query's wait is on the query lock.
        embedder._bulk_lock = _TimedLock(embedder._bulk_lock, self)
        embedder._query_lock = _TimedLock(embedder._query_lock, self)
        collection = library.vectors.collection

        def timed_collection(name: str) -> Any:
            started = time.perf_counter()
            col = collection(name)
            log.add("chroma.get_or_create_collection", 1, started, time.perf_counter())
            return _TimedCollection(col, log)

        library.vectors.collection = timed_collection

    def _timed(self, kind: str, fn: Any) -> Any:
        def timed(text: str) -> Any:
            started = time.perf_counter()
            try:
                return fn(text)
            finally:
                self.add(kind, len(text), started, time.perf_counter())

        return timed

    def between(self, start: float, end: float) -> list[dict[str, Any]]:
        return [c for c in self.calls if start <= c["start"] <= end]


class _TimedLock:
    """An embedder lock with the time each encode waited for it (a query behind a bulk encode)."""

    def __init__(self, lock: Any, log: CallLog) -> None:
        self._lock = lock
        self._log = log
        self._local = threading.local()

    def __enter__(self) -> _TimedLock:
        asked = time.perf_counter()
        self._lock.acquire()
        self._local.times = (asked, time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        asked, got = self._local.times
        released = time.perf_counter()
        self._lock.release()
        n = getattr(self._log._local, "n", 0)
        self._log.add(
            "embedder.lock", n, asked, released, wait_s=got - asked, hold_s=released - got
        )


class _TimedCollection:
    _TIMED = ("upsert", "add", "get", "delete", "query")

    def __init__(self, collection: Any, log: CallLog) -> None:
        self._collection = collection
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if name not in self._TIMED:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            items = kwargs.get("ids") or kwargs.get("embeddings") or kwargs.get("query_embeddings")
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                n = len(items) if items is not None else 0
                self._log.add(f"chroma.{name}", n, started, time.perf_counter())

        return timed


def call_summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind: calls, items, total and longest seconds (and lock waits of query encodes)."""
    out: dict[str, Any] = {}
    for call in calls:
        kind = call["kind"]
        if kind == "embedder.lock":
            kind = "embedder.lock." + ("query" if call["n"] == 1 else "bulk")
        row = out.setdefault(kind, {"calls": 0, "items": 0, "total_s": 0.0, "max_s": 0.0})
        seconds = call.get("wait_s", call["end"] - call["start"])
        row["calls"] += 1
        row["items"] += call["n"]
        row["total_s"] = round(row["total_s"] + seconds, 3)
        row["max_s"] = round(max(row["max_s"], seconds), 3)
        if kind.startswith("embedder.lock"):
            row["max_hold_s"] = round(max(row.get("max_hold_s", 0.0), call["hold_s"]), 3)
    for kind, row in out.items():
        if kind.startswith("embedder.lock"):
            row["note"] = "total_s/max_s are time spent WAITING for the lock"
    return out


def attribute_stalls(
    monitor: LagMonitor, calls: list[dict[str, Any]], start: float, end: float, over: float
) -> dict[str, Any]:
    """Lag samples over `over` s, and which timed calls covered at least half of each stall."""
    stalls = []
    for t_end, lag in monitor.samples:
        if not (start <= t_end <= end) or lag < over:
            continue
        window = (t_end - lag, t_end)  # from the expected wake-up to the actual one
        covering = sorted(
            {
                c["kind"]
                for c in calls
                if c["kind"] != "embedder.lock"
                and min(c["end"], window[1]) - max(c["start"], window[0]) >= lag / 2
            }
        )
        stalls.append({"lag_ms": round(lag * 1000, 1), "covered_by": covering})
    by_kind = collections.Counter(kind for s in stalls for kind in s["covered_by"])
    return {
        "stalls": len(stalls),
        "covered_by_counts": dict(by_kind),
        "worst": sorted(stalls, key=lambda s: -s["lag_ms"])[:10],
    }


def chroma_gil_probe(library: Library, vectors: int = 512) -> dict[str, Any]:
    """Does a chroma upsert let other Python threads run? A thread sleeping 1 ms in a loop counts
    its wake-ups during one upsert of `vectors` random vectors into a scratch collection."""
    import numpy as np

    client = library.vectors.client
    name = "bench-gil-probe"
    col = client.get_or_create_collection(
        name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    time.sleep(0.05)
    rng = np.random.default_rng(0)
    results = []
    for round_ in range(3):
        emb = rng.normal(size=(vectors, library.embedder.dim)).astype(np.float32)
        started = time.perf_counter()
        col.upsert(
            ids=[f"{round_}-{i}" for i in range(vectors)],
            embeddings=emb,
            metadatas=[
                {"doc_id": f"d{i % 40}", "source": "probe", "visibility": "public"}
                for i in range(vectors)
            ],
        )
        ended = time.perf_counter()
        inside = [t for t in ticks if started < t < ended]
        edges = [started, *inside, ended]
        results.append(
            {
                "upsert_ms": round((ended - started) * 1000, 1),
                "other_thread_wakeups": len(inside),
                "longest_gap_ms": round(max(b - a for a, b in itertools.pairwise(edges)) * 1000, 1),
            }
        )
    stop.set()
    thread.join()
    client.delete_collection(name)
    return {"vectors_per_upsert": vectors, "rounds": results}


# -- a second process as a control: the machine's own scheduling delay --------------------------
CONTROL_SCRIPT = """
import asyncio, sys, time
async def main():
    out = open(sys.argv[1], "w", buffering=1)
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.010)
        now = time.perf_counter()
        out.write(f"{now} {max(0.0, now - started - 0.010)}\\n")
asyncio.run(main())
"""


def read_control(path: Path) -> list[tuple[float, float]]:
    samples = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            samples.append((float(parts[0]), float(parts[1])))
    return samples


# -- asking over the wire ---------------------------------------------------------------------
@dataclass
class AskResult:
    question: str
    ok: bool
    latency_s: float = float("nan")
    ack_s: float = float("nan")
    outcome: str = ""  # answered / abstained / ephemeral / error
    error: str = ""


@dataclass
class World:
    double: DiscordDouble
    guild: Any
    channel: Any
    members: list[Any] = field(default_factory=list)


async def ask_once(world: World, member: Any, question: str, timeout: float) -> AskResult:
    started = time.perf_counter()
    try:
        inter = await world.double.slash_command(
            world.guild, world.channel, member, "ask", {"question": question}
        )
        await inter.wait_response(timeout=timeout)
        ack = time.monotonic() - inter.created_at
        msg = await inter.wait_message(timeout=timeout)
        latency = time.perf_counter() - started
    except Exception as exc:  # a timeout or a double error: counted, the run goes on
        return AskResult(question, False, error=f"{type(exc).__name__}: {str(exc)[:300]}")
    if inter.ephemeral or not msg.embed:
        outcome = "ephemeral"
    elif "don't cover" in (msg.embed.get("description") or ""):
        outcome = "abstained"
    else:
        outcome = "answered"
    return AskResult(question, outcome != "ephemeral", latency, ack, outcome)


def ask_summary(results: list[AskResult]) -> dict[str, Any]:
    done = [r for r in results if r.ok]
    out: dict[str, Any] = {
        "asked": len(results),
        "ok": len(done),
        "failed": len(results) - len(done),
        "outcomes": dict(collections.Counter(r.outcome or "error" for r in results)),
        "latency": _common.latency_summary([r.latency_s for r in done]),
        "ack": _common.latency_summary([r.ack_s for r in done]),
    }
    errors = [r.error for r in results if r.error]
    if errors:
        out["errors"] = errors[:5]
    return out


# -- setup helpers ----------------------------------------------------------------------------
def load_questions() -> list[str]:
    return [
        json.loads(line)["question"]
        for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def cycle(items: list[str], n: int) -> list[str]:
    return [items[i % len(items)] for i in range(n)]


def corpus_sample(root: Path, dest: Path, n: int) -> int:
    """Copy a fixed random sample (seed 0) of n loadable corpus files, keeping relative paths."""
    suffixes = set(supported_suffixes())
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    chosen = random.Random(0).sample(files, min(n, len(files)))
    for path in chosen:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return len(chosen)


def edit_every_file(root: Path) -> int:
    """Append a line to every loadable file (a content change, so every document re-embeds)."""
    suffixes = set(supported_suffixes())
    count = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(f"\n\nRevised for the bot benchmark ({count}).\n")
            count += 1
    return count


def kb_chunks(kb: Any) -> int:
    return int(kb.catalog.stats().get("chunks", -1))


# -- the run ----------------------------------------------------------------------------------
async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    phases = Phases()
    slow: SlowCallbacks | None = None
    if args.asyncio_debug:
        loop.slow_callback_duration = SLOW_CALLBACK_S
        slow = SlowCallbacks(phases)
        logging.getLogger("asyncio").addHandler(slow)

    t0 = time.perf_counter()
    embedder = await asyncio.to_thread(Embedder)
    model_s = time.perf_counter() - t0

    notes = workdir / "notes"
    shutil.copytree(NOTES, notes)
    corpus_root = workdir / "corpus-sample"
    corpus_files = 0
    if args.resync == "corpus":
        corpus_files = corpus_sample(CORPUS, corpus_root, args.resync_files)
    settings = Settings(data_dir=workdir / "data", discord_token=None)
    library = Library(settings.data_dir, embedder)
    services = await Services.open(settings, library)
    questions = load_questions()
    result: dict[str, Any] = {"machine": _common.machine_note(), "model_load_s": round(model_s, 2)}
    result["chroma_gil_probe"] = await asyncio.to_thread(chroma_gil_probe, library)
    calls = CallLog()
    calls.instrument(library)
    control_file = workdir / "control-lag.txt"
    control = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CONTROL_SCRIPT, str(control_file), stdin=asyncio.subprocess.DEVNULL
    )
    try:
        async with DiscordDouble() as double:  # what the `discord_double` fixture does
            double.raise_on_error = False  # count failures; do not abort the other waits
            guild = double.add_guild("PixelMoth", owner="pixelmoth")
            world = World(double, guild, guild.add_text_channel("general"))
            world.members = [guild.add_member(f"fan{i}") for i in range(max(args.burst, 1))]

            kb = services.kb(guild.id)
            t0 = time.perf_counter()
            report = await asyncio.to_thread(kb.sync, [FolderSource(notes)])
            result["setup"] = {
                "notes_sync_s": round(time.perf_counter() - t0, 2),
                "notes_sync": report.summary(),
                "chunks": kb_chunks(kb),
            }
            await services.guild_configs.update(
                guild.id, user_cooldown_seconds=0, guild_questions_per_minute=10000
            )

            bot = GreenroomBot(services, **bot_kwargs())
            async with run_bot(
                double, bot, error_loggers=("discord", "bot", "knowledge"), check_errors=False
            ):
                await bot.tree.sync()  # as `greenroom sync-commands` would
                warm = await ask_once(world, world.members[0], questions[0], args.timeout)
                result["warmup"] = asdict(warm)

                monitor = LagMonitor()
                monitor.start()
                sampler = None
                if args.stall_stacks:
                    sampler = StallSampler(monitor, phases, threading.get_ident())
                    sampler.start()
                await asyncio.sleep(0.2)
                asks: dict[str, Any] = {}

                # A: idle baseline
                phases.begin("A")
                await asyncio.sleep(args.idle_seconds)
                phases.end("A")

                # B: a burst of /ask at once, one member each
                burst = cycle(questions, args.burst)
                b = phases.begin("B")
                results = await asyncio.gather(
                    *(
                        ask_once(world, world.members[i % len(world.members)], q, args.timeout)
                        for i, q in enumerate(burst)
                    )
                )
                b_end = phases.end("B")
                asks["B"] = ask_summary(list(results))
                asks["B"]["wall_s"] = round(b_end - b, 2)
                asks["B"]["kb_chunks"] = kb_chunks(kb)

                # C: a re-sync in a worker thread while /asks run one after another
                if args.resync == "corpus":
                    source_root, files = corpus_root, corpus_files
                else:
                    source_root = notes
                    files = await asyncio.to_thread(edit_every_file, notes)
                chunks_before = kb_chunks(kb)
                c = phases.begin("C")
                sync_task = asyncio.ensure_future(
                    asyncio.to_thread(kb.sync, [FolderSource(source_root)])
                )
                c_results: list[AskResult] = []
                i = 0
                while not sync_task.done():
                    member = world.members[i % len(world.members)]
                    c_results.append(
                        await ask_once(world, member, questions[i % len(questions)], args.timeout)
                    )
                    i += 1
                report = await sync_task
                c_end = phases.end("C")
                asks["C"] = ask_summary(c_results)
                asks["C"]["resync"] = {
                    "mode": args.resync,
                    "files": files,
                    "seconds": round(c_end - c, 2),
                    "report": report.summary(),
                    "chunks_embedded": report.chunks_embedded,
                    "failed_files": [repr(f)[:200] for f in report.failed],
                    "kb_chunks_before": chunks_before,
                    "kb_chunks_after": kb_chunks(kb),
                }

                # D: sequential /ask with nothing else running
                phases.begin("D")
                d_results = [
                    await ask_once(world, world.members[i % len(world.members)], q, args.timeout)
                    for i, q in enumerate(cycle(questions, args.sequential))
                ]
                phases.end("D")
                asks["D"] = ask_summary(d_results)
                asks["D"]["kb_chunks"] = kb_chunks(kb)

                await monitor.stop()
                if sampler is not None:
                    sampler.stop_event.set()
                    sampler.join()
                    result["stall_stacks"] = sampler.summary()
            result["bot_errors"] = [repr(e)[:400] for e in double.errors[:10]]
            result["bot_error_count"] = len(double.errors)
            result["bot_warnings"] = [repr(w)[:300] for w in double.warnings[:10]]
            result["http_errors"] = [
                f"{r.method} {r.path} -> {r.status} {r.response}"[:300]
                for r in double.http_errors[:10]
            ]
            result["http_error_count"] = len(double.http_errors)
    finally:
        await services.close()
        with contextlib.suppress(ProcessLookupError):
            control.terminate()
        await asyncio.wait_for(control.wait(), 10)
        if slow is not None:
            logging.getLogger("asyncio").removeHandler(slow)

    control_samples = read_control(control_file)
    result["lag"], result["control_lag"], result["calls"], result["stalls"] = {}, {}, {}, {}
    for key in ("A", "B", "C", "D"):
        start, end = phases.spans[key]
        result["lag"][key] = lag_summary(monitor.between(start, end))
        result["control_lag"][key] = lag_summary(
            [lag for t, lag in control_samples if start <= t <= end]
        )
        result["calls"][key] = call_summary(calls.between(start, end))
        result["stalls"][key] = attribute_stalls(monitor, calls.calls, start, end, STALL_S)
    result["asks"] = asks
    if slow is not None:
        result["slow_callbacks"] = slow.summary()
    return result


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    lag, asks = result["lag"], result["asks"]
    names = {
        "A": "A idle",
        "B": f"B {args.burst} /ask at once",
        "C": f"C re-sync ({args.resync}) + /ask",
        "D": f"D {args.sequential} sequential /ask",
    }
    rows = []
    for key, name in names.items():
        a = asks.get(key, {})
        lat, ack = a.get("latency", {}), a.get("ack", {})
        rows.append(
            [
                name,
                lag[key]["p50_ms"],
                lag[key]["p99_ms"],
                lag[key]["max_ms"],
                lag[key]["over_100ms"],
                result["control_lag"][key]["p99_ms"],
                result["control_lag"][key]["max_ms"],
                f"{a['ok']}/{a['asked']}" if a else "",
                lat.get("p50_ms", float("nan")),
                lat.get("p95_ms", float("nan")),
                lat.get("max_ms", float("nan")),
                ack.get("max_ms", float("nan")),
            ]
        )
    print()
    _common.print_table(
        rows,
        [
            "phase",
            "lag p50 ms",
            "lag p99 ms",
            "lag max ms",
            ">100ms",
            "ctl p99",
            "ctl max",
            "asks ok",
            "ask p50 ms",
            "ask p95 ms",
            "ask max ms",
            "ack max ms",
        ],
    )
    print("(ctl = a separate idle process's 10 ms sleep loop: the machine's own scheduling delay)")
    rows = []
    for key in names:
        calls, stalls = result["calls"][key], result["stalls"][key]
        query_wait = calls.get("embedder.lock.query", {})
        upsert = calls.get("chroma.upsert", {})
        bulk = calls.get("embedder.lock.bulk", {})
        rows.append(
            [
                key,
                calls.get("encode.query", {}).get("calls", 0),
                query_wait.get("max_s", 0.0) * 1000,
                query_wait.get("total_s", 0.0) * 1000,
                bulk.get("max_hold_s", 0.0),
                upsert.get("calls", 0),
                upsert.get("max_s", 0.0) * 1000,
                calls.get("tokenize.token_spans", {}).get("max_s", 0.0) * 1000,
                stalls["stalls"],
                ", ".join(f"{k} {v}" for k, v in sorted(stalls["covered_by_counts"].items()))
                or "-",
            ]
        )
    print()
    _common.print_table(
        rows,
        [
            "phase",
            "query encodes",
            "lock wait max ms",
            "lock wait sum ms",
            "bulk hold max s",
            "upserts",
            "upsert max ms",
            "tokenize max ms",
            f"stalls>{STALL_S * 1000:.0f}ms",
            "stalls covered by (>= half the stall)",
        ],
    )
    probe = result["chroma_gil_probe"]
    print(
        f"\nchroma GIL probe ({probe['vectors_per_upsert']} vectors per upsert): "
        + "; ".join(
            f"{r['upsert_ms']} ms upsert, other thread woke {r['other_thread_wakeups']}x"
            f" (longest gap {r['longest_gap_ms']} ms)"
            for r in probe["rounds"]
        )
    )
    c = asks["C"]["resync"]
    print(
        f"\nre-sync: {c['files']} files, {c['chunks_embedded']} chunks embedded in"
        f" {c['seconds']} s ({c['report']}); KB chunks {c['kb_chunks_before']} ->"
        f" {c['kb_chunks_after']}"
    )
    verdicts = []
    for key in ("B", "C"):
        p99 = lag[key]["p99_ms"]
        verdicts.append(f"{key}: {'met' if p99 <= TARGET_LAG_P99_MS else 'MISSED'} ({p99} ms)")
    print(f"target lag p99 <= {TARGET_LAG_P99_MS:.0f} ms: " + "; ".join(verdicts))
    print(
        f"bot errors logged: {result['bot_error_count']}, HTTP errors from the double:"
        f" {result['http_error_count']}"
    )
    for phase, info in (result.get("slow_callbacks") or {}).items():
        print(
            f"\nslow callbacks (>{SLOW_CALLBACK_S * 1000:.0f} ms) in {phase}: {info['count']},"
            f" {info['total_s']} s in all; worst:"
        )
        for rec in info["worst"][:4]:
            print(f"  {rec['seconds'] * 1000:7.1f} ms  {rec['handle'][:160]}")
    for phase, info in (result.get("stall_stacks") or {}).items():
        print(f"\nloop stalls >{STALL_S * 1000:.0f} ms in {phase}: {info['stalls']}; top stacks:")
        for stack, count in info["top_stacks"][:4]:
            print(f"  {count:4d}x {stack[:220]}")
        print("  other threads at those moments:")
        for stack, count in info["other_threads"][:5]:
            print(f"  {count:4d}x {stack[:220]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resync", choices=("corpus", "notes"), default="corpus")
    parser.add_argument("--resync-files", type=int, default=60)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="per /ask wait (s)")
    parser.add_argument("--asyncio-debug", action="store_true")
    parser.add_argument("--stall-stacks", action="store_true")
    parser.add_argument("--keep-dir", action="store_true", help="keep the temporary data dir")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/bot.json")
    args = parser.parse_args()

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="greenroom-botbench-"))
    try:
        result = asyncio.run(run(args, workdir), debug=args.asyncio_debug)
    finally:
        if args.keep_dir:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    result["target_lag_p99_ms"] = TARGET_LAG_P99_MS
    report(result, args)
    path = _common.write_results("bot.json", result, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

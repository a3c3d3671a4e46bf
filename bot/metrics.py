"""What the running bot counts for operators, in Prometheus form (served by bot/monitoring.py).

Counts that live in the database (clips by state, review decisions) are read when scraped, so
they survive restarts; the rest are counted in this process as things happen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bot.clips.states import DECISION_ACTIONS, ClipStatus
from bot.storage import Database
from knowledge import KnowledgeError, Progress, SourceOutcome, SourceSyncer, StoreUnavailable

log = logging.getLogger(__name__)

# Retrieval and ranking take tens of milliseconds; a cold collection or a busy CPU, seconds.
ANSWER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SYNC_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


@dataclass(frozen=True)
class LastSync:
    """The most recent source sync this process ran, as /healthz shows it."""

    kb: str
    key: str
    status: str  # ok, partial, failed (knowledge/source_registry.py), or error for a bug
    message: str
    finished_at: float  # unix time
    seconds: float


class Metrics:
    """One process's metrics, in a registry of their own (so tests can make many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter(
            "greenroom_questions",
            "Questions answered, by the tier the fan saw (answer, suggest, decline) and the way"
            " they asked (slash, mention, follow-up, auto, context-menu)",
            ["tier", "via"],
            registry=r,
        )
        self.answer_seconds = Histogram(
            "greenroom_answer_seconds",
            "Time to answer a question from the notes (retrieval, ranking, the answer's tier)",
            ["tier"],
            buckets=ANSWER_BUCKETS,
            registry=r,
        )
        self.feedback = Counter(
            "greenroom_feedback",
            "Fans' and mods' votes on answers: up (a thumbs-up, 'N answered it'),"
            " down (a thumbs-down, 'Ask a mod')",
            ["vote"],
            registry=r,
        )
        self.gaps = Counter(
            "greenroom_gaps_recorded",
            "Questions recorded as not answered (the gap list), by outcome: abstained (the"
            " fan saw a suggestion or a decline) or silent (auto-answer stayed quiet)",
            ["outcome"],
            registry=r,
        )
        self.source_syncs = Counter(
            "greenroom_source_syncs",
            "Source syncs by kind and result (ok, partial, failed, error)",
            ["kind", "status"],
            registry=r,
        )
        self.source_sync_seconds = Histogram(
            "greenroom_source_sync_seconds",
            "Duration of source syncs, fetching and storing",
            ["kind"],
            buckets=SYNC_BUCKETS,
            registry=r,
        )
        self.loop_lag = Histogram(
            "greenroom_event_loop_lag_seconds",
            "How late the event loop woke a timer (time the loop was busy or blocked)",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.loop_lag_last = Gauge(
            "greenroom_event_loop_lag_last_seconds",
            "The event loop's lag at the latest probe",
            registry=r,
        )
        self.gateway_connected = Gauge(
            "greenroom_gateway_connected", "1 while the Discord gateway is connected", registry=r
        )
        ProcessCollector(registry=r)
        self._stored = _StoredCounts()
        r.register(self._stored)
        self.last_sync: LastSync | None = None

    # -- what the bot's code reports ---------------------------------------------------------
    def question_recorded(self, *, tier: str, via: str, outcome: str) -> None:
        self.questions.labels(tier=tier, via=via).inc()
        if outcome != "answered":
            self.gaps.labels(outcome=outcome).inc()

    def answered(self, tier: str, seconds: float) -> None:
        self.answer_seconds.labels(tier=tier).observe(seconds)

    def voted(self, vote: int) -> None:
        self.feedback.labels(vote="up" if vote > 0 else "down").inc()

    def synced(self, kb: str, key: str, status: str, message: str, seconds: float) -> None:
        kind = key.partition(":")[0]
        self.source_syncs.labels(kind=kind, status=status).inc()
        self.source_sync_seconds.labels(kind=kind).observe(seconds)
        self.last_sync = LastSync(kb, key, status, message, time.time(), seconds)

    def loop_lagged(self, seconds: float) -> None:
        self.loop_lag.observe(seconds)
        self.loop_lag_last.set(seconds)

    async def read_stored(self, db: Database) -> None:
        """Read the counts kept in the database (call before each scrape)."""
        states = await db.fetchall("SELECT status, COUNT(*) FROM clips GROUP BY status")
        decisions = await db.fetchall("SELECT action, COUNT(*) FROM clip_decisions GROUP BY action")
        self._stored.clips = {row[0]: int(row[1]) for row in states}
        self._stored.decisions = {row[0]: int(row[1]) for row in decisions}


class _StoredCounts:
    """Clips by state and review decisions, as last read from the database."""

    def __init__(self) -> None:
        self.clips: dict[str, int] = {}
        self.decisions: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        clips = GaugeMetricFamily(
            "greenroom_clips", "Clips by review state (every version counts)", labels=["state"]
        )
        for state in ClipStatus:
            clips.add_metric([state.value], self.clips.get(state.value, 0))
        yield clips
        decisions = CounterMetricFamily(
            "greenroom_clip_decisions",
            "Review decisions on clips, by action (from the append-only decision log)",
            labels=["action"],
        )
        for action in sorted({*(a.value for a in DECISION_ACTIONS), *self.decisions}):
            decisions.add_metric([action], self.decisions.get(action, 0))
        yield decisions


class MeasuredSourceSyncer(SourceSyncer):
    """The source syncer, timing each sync and counting its result (every sync in the bot,
    live, scheduled or asked for, goes through `sync`)."""

    def __init__(self, *args, metrics: Metrics, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def sync(self, kb_name: str, key: str, progress: Progress | None = None) -> SourceOutcome:
        started = time.perf_counter()
        try:
            outcome = await super().sync(kb_name, key, progress)
        except StoreUnavailable as exc:  # a Chroma server that is down
            self.metrics.synced(
                kb_name, key, "error", type(exc).__name__, time.perf_counter() - started
            )
            raise
        except KnowledgeError:
            raise  # an unknown or removed source: nothing was synced
        except Exception as exc:
            self.metrics.synced(
                kb_name, key, "error", type(exc).__name__, time.perf_counter() - started
            )
            raise
        result = outcome.result
        self.metrics.synced(
            kb_name, outcome.key, result.status, result.message, time.perf_counter() - started
        )
        return outcome

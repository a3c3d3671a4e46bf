"""Every question asked, its outcome and its ratings: the source of the knowledge-gap list."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.storage import Database, Migration

if TYPE_CHECKING:
    from bot.metrics import Metrics

MIGRATIONS = [
    Migration(
        1,
        """
        CREATE TABLE questions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            question TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('answered', 'abstained', 'silent')),
            confidence REAL NOT NULL,
            via TEXT NOT NULL,
            message_id INTEGER,          -- the bot's answer, when one was posted
            asked_message_id INTEGER,    -- the fan's message, when the question was a message
            resolved_by INTEGER,
            resolved_at REAL,
            created_at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
        );
        CREATE INDEX questions_guild ON questions(guild_id, created_at);
        CREATE INDEX questions_message ON questions(message_id);
        CREATE TABLE ratings (
            question_id INTEGER NOT NULL REFERENCES questions(id),
            user_id INTEGER NOT NULL,
            vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
            PRIMARY KEY (question_id, user_id)
        );
        """,
    ),
    # What the fan was shown, so that buttons work after a restart: the tier, the passages'
    # chunk ids in order (the answer's, or each suggestion's), the learned entry an answer came
    # from, the text the knowledge base was asked (mentions stripped, a short follow-up joined
    # to its first question), and the learned entry a confirmation of this question made.
    Migration(
        2,
        """
        ALTER TABLE questions ADD COLUMN mode TEXT NOT NULL DEFAULT 'decline'
            CHECK (mode IN ('answer', 'suggest', 'decline'));
        UPDATE questions SET mode = 'answer' WHERE outcome = 'answered';
        ALTER TABLE questions ADD COLUMN shown_chunks TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE questions ADD COLUMN learned_id INTEGER;
        ALTER TABLE questions ADD COLUMN searched TEXT;
        ALTER TABLE questions ADD COLUMN confirmed_id INTEGER;
        """,
    ),
]


@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    question: str
    outcome: str
    confidence: float
    message_id: int | None
    asked_message_id: int | None
    score: int  # up-votes minus down-votes
    resolved: bool
    mode: str = "decline"  # answer, suggest or decline (knowledge.answer)
    shown_chunks: tuple[str, ...] = ()  # the answer's passage, or each suggestion's, in order
    learned_id: int | None = None  # the learned entry the answer came from
    searched: str = ""  # the text the knowledge base was asked
    confirmed_id: int | None = None  # the learned entry a confirmation of this question made


@dataclass(frozen=True)
class Gap:
    """Similar unanswered or down-voted questions, most asked first."""

    representative: LoggedQuestion
    members: tuple[LoggedQuestion, ...]

    @property
    def count(self) -> int:
        return len(self.members)


_SELECT = (
    "SELECT q.*, COALESCE((SELECT SUM(vote) FROM ratings r WHERE r.question_id = q.id), 0)"
    " AS score FROM questions q"
)


def _row(r) -> LoggedQuestion:
    return LoggedQuestion(
        id=r["id"],
        guild_id=r["guild_id"],
        channel_id=r["channel_id"],
        user_id=r["user_id"],
        question=r["question"],
        outcome=r["outcome"],
        confidence=r["confidence"],
        message_id=r["message_id"],
        asked_message_id=r["asked_message_id"],
        score=int(r["score"]),
        resolved=r["resolved_at"] is not None,
        mode=r["mode"],
        shown_chunks=tuple(json.loads(r["shown_chunks"])),
        learned_id=r["learned_id"],
        searched=r["searched"] or r["question"],
        confirmed_id=r["confirmed_id"],
    )


class QuestionLog:
    def __init__(self, db: Database, metrics: Metrics | None = None) -> None:
        self.db = db
        self.metrics = metrics  # counts questions by tier, gaps and votes as they are logged

    async def migrate(self) -> None:
        await self.db.migrate("questions", MIGRATIONS)

    async def record(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        question: str,
        outcome: str,
        confidence: float,
        via: str,
        asked_message_id: int | None = None,
        mode: str = "decline",
        shown_chunks: Sequence[str] = (),
        learned_id: int | None = None,
        searched: str | None = None,
    ) -> int:
        question_id = await self.db.execute(
            "INSERT INTO questions(guild_id, channel_id, user_id, question, outcome, confidence,"
            " via, asked_message_id, mode, shown_chunks, learned_id, searched)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                guild_id,
                channel_id,
                user_id,
                question,
                outcome,
                confidence,
                via,
                asked_message_id,
                mode,
                json.dumps(list(shown_chunks)),
                learned_id,
                searched if searched != question else None,
            ),
        )
        if self.metrics is not None:
            self.metrics.question_recorded(tier=mode, via=via, outcome=outcome)
        return question_id

    async def set_confirmed(self, question_id: int, entry_id: int | None) -> None:
        """Remember the learned entry this question's confirmation made (a 👎 undoes it)."""
        await self.db.execute(
            "UPDATE questions SET confirmed_id = ? WHERE id = ?", (entry_id, question_id)
        )

    async def attach_message(self, question_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE questions SET message_id = ? WHERE id = ?", (message_id, question_id)
        )

    async def get(self, question_id: int) -> LoggedQuestion | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE q.id = ?", (question_id,))
        return _row(row) if row else None

    async def by_answer_message(self, message_id: int) -> LoggedQuestion | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE q.message_id = ?", (message_id,))
        return _row(row) if row else None

    async def rate(self, question_id: int, user_id: int, vote: int) -> int:
        """Record (or change) one member's vote; returns the new score."""
        await self.db.execute(
            "INSERT INTO ratings(question_id, user_id, vote) VALUES (?, ?, ?)"
            " ON CONFLICT(question_id, user_id) DO UPDATE SET vote = excluded.vote",
            (question_id, user_id, vote),
        )
        if self.metrics is not None:
            self.metrics.voted(vote)
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(vote), 0) FROM ratings WHERE question_id = ?", (question_id,)
        )
        return int(row[0])

    async def resolve(self, question_ids: Sequence[int], mod_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE questions SET resolved_by = ?,"
                " resolved_at = (julianday('now') - 2440587.5) * 86400.0 WHERE id = ?",
                [(mod_id, qid) for qid in question_ids],
            )

    async def open_gaps(self, guild_id: int, limit: int = 200) -> list[LoggedQuestion]:
        rows = await self.db.fetchall(
            # Not answered (unless a fan said a suggestion answered it), or voted down.
            f"SELECT * FROM ({_SELECT} WHERE q.guild_id = ? AND q.resolved_at IS NULL)"
            " WHERE (outcome != 'answered' AND score <= 0) OR score < 0"
            " ORDER BY created_at DESC LIMIT ?",
            (guild_id, limit),
        )
        return [_row(r) for r in rows]

    async def counts(self, guild_id: int) -> dict[str, int]:
        """Questions by what the fan saw: answer, suggest, decline, or nothing (silent)."""
        rows = await self.db.fetchall(
            "SELECT CASE outcome WHEN 'silent' THEN 'silent' ELSE mode END AS seen, COUNT(*)"
            " FROM questions WHERE guild_id = ? GROUP BY seen",
            (guild_id,),
        )
        return {r[0]: r[1] for r in rows}


def group_gaps(
    questions: Sequence[LoggedQuestion],
    embed: Callable[[list[str]], np.ndarray],
    threshold: float = 0.75,
) -> list[Gap]:
    """Greedy grouping by cosine similarity of normalised question vectors."""
    if not questions:
        return []
    vectors = embed([q.question for q in questions])
    groups: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i, vector in enumerate(vectors):
        sims = [float(vector @ c) for c in centroids]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= threshold:
            groups[best].append(i)
        else:
            groups.append([i])
            centroids.append(vector)
    gaps = [Gap(questions[g[0]], tuple(questions[i] for i in g)) for g in groups]
    return sorted(gaps, key=lambda gap: gap.count, reverse=True)

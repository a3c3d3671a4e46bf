"""Learned answers: questions confirmed as answered by a passage, remembered per knowledge base.

A later question close to a confirmed one gets that passage as an *answer*. Guarded against
abuse: a mod's confirmation counts at once, fans' confirmations need two different fans; a
thumbs-down on a learned answer or a mod's removal undoes it; a changed or deleted note drops
what was learned from it (a trigger in the catalog, in the same transaction as the change);
private notes are never learned. Each knowledge base has its own catalog, so nothing crosses
guilds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.documents import PUBLIC
from knowledge.catalog import Catalog

# Cosine between two questions' embeddings above which they count as the same question.
# Paraphrases of a chat question ("what did u use for the brb screen" / "what made your brb
# screen") score 0.8-0.95 with MiniLM; different questions about one note mostly below 0.75.
SAME_QUESTION = 0.8
FAN_AGREEMENT = 2  # different fans who must confirm before a fan-confirmed entry is used


@dataclass(frozen=True)
class LearnedEntry:
    id: int
    question: str
    chunk_id: str
    doc_id: str
    title: str
    heading: str
    mod_votes: int
    fan_votes: int

    @property
    def active(self) -> bool:
        return self.mod_votes > 0 or self.fan_votes >= FAN_AGREEMENT


@dataclass(frozen=True)
class LearnedMatch:
    entry: LearnedEntry
    similarity: float


class LearnedAnswers:
    """The learned answers of one knowledge base, kept in its catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def confirm(
        self, question: str, vector: np.ndarray, chunk_id: str, user_id: str, *, by_mod: bool
    ) -> LearnedEntry | None:
        """Record that `user_id` confirmed `chunk_id` answers `question`.

        Returns the entry, or None when the passage is gone or private (nothing is learned).
        """
        vector = np.asarray(vector, dtype=np.float32)
        with self.catalog.transaction() as conn:
            row = conn.execute(
                "SELECT c.doc_id, d.content_hash, d.visibility FROM chunks c"
                " JOIN documents d USING (doc_id) WHERE c.chunk_id = ?",
                (chunk_id,),
            ).fetchone()
            if row is None or row["visibility"] != PUBLIC:
                return None
            entry_id = self._same(conn, vector, chunk_id)
            if entry_id is None:
                entry_id = conn.execute(
                    "INSERT INTO learned(question, vector, chunk_id, doc_id, content_hash)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (question, vector.tobytes(), chunk_id, row["doc_id"], row["content_hash"]),
                ).lastrowid
            conn.execute(
                "INSERT INTO learned_votes(learned_id, user_id, by_mod) VALUES (?, ?, ?)"
                " ON CONFLICT(learned_id, user_id) DO UPDATE"
                " SET by_mod = max(by_mod, excluded.by_mod)",
                (entry_id, str(user_id), int(by_mod)),
            )
        return self.get(entry_id)

    def _same(self, conn, vector: np.ndarray, chunk_id: str) -> int | None:
        rows = conn.execute(
            "SELECT id, vector FROM learned WHERE chunk_id = ?", (chunk_id,)
        ).fetchall()
        best, best_sim = None, SAME_QUESTION
        for r in rows:
            sim = float(np.frombuffer(r["vector"], dtype=np.float32) @ vector)
            if sim >= best_sim:
                best, best_sim = r["id"], sim
        return best

    def match(self, vector: np.ndarray) -> LearnedMatch | None:
        """The active entry closest to this question, if it is close enough."""
        if not self.catalog.read("SELECT 1 FROM learned LIMIT 1"):
            return None  # nothing learned yet: skip the join (most questions, most servers)
        best: LearnedMatch | None = None
        vector = np.asarray(vector, dtype=np.float32)
        for entry, stored in self._entries_with_vectors(active_only=True):
            sim = float(stored @ vector)
            if sim >= SAME_QUESTION and (best is None or sim > best.similarity):
                best = LearnedMatch(entry, sim)
        return best

    def refute(self, entry_id: int) -> bool:
        """A thumbs-down on a learned answer, or a mod's removal: forget the entry."""
        with self.catalog.transaction() as conn:
            return conn.execute("DELETE FROM learned WHERE id = ?", (entry_id,)).rowcount > 0

    def get(self, entry_id: int) -> LearnedEntry | None:
        found = [e for e, _ in self._entries_with_vectors(entry_id=entry_id)]
        return found[0] if found else None

    def entries(self) -> list[LearnedEntry]:
        """Every entry still pointing at a live public passage, newest first."""
        return [e for e, _ in self._entries_with_vectors()]

    def _entries_with_vectors(
        self, *, active_only: bool = False, entry_id: int | None = None
    ) -> list[tuple[LearnedEntry, np.ndarray]]:
        # The join drops entries whose chunk is gone (a re-chunked note) or turned private.
        sql = (
            "SELECT l.id, l.question, l.vector, l.chunk_id, l.doc_id, d.title, c.heading,"
            " coalesce(sum(v.by_mod), 0) AS mods, coalesce(sum(1 - v.by_mod), 0) AS fans"
            " FROM learned l JOIN chunks c ON c.chunk_id = l.chunk_id"
            " JOIN documents d ON d.doc_id = l.doc_id"
            " LEFT JOIN learned_votes v ON v.learned_id = l.id"
            " WHERE d.visibility = ? AND d.content_hash = l.content_hash"
        )
        params: list[object] = [PUBLIC]
        if entry_id is not None:
            sql += " AND l.id = ?"
            params.append(entry_id)
        sql += " GROUP BY l.id ORDER BY l.id DESC"
        rows = self.catalog.read(sql, params)
        out = []
        for r in rows:
            entry = LearnedEntry(
                id=r["id"],
                question=r["question"],
                chunk_id=r["chunk_id"],
                doc_id=r["doc_id"],
                title=r["title"],
                heading=r["heading"],
                mod_votes=int(r["mods"]),
                fan_votes=int(r["fans"]),
            )
            if active_only and not entry.active:
                continue
            out.append((entry, np.frombuffer(r["vector"], dtype=np.float32)))
        return out

"""Extractive answers: the passage that answers, trimmed to the relevant part, with citations.

Abstention uses several signals, because a plain threshold on the top dense score separates
unanswerable questions poorly: the dense similarity of the best passage, how many of the
question's content words the passage contains, and whether both retrievers agree on it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from knowledge.catalog import query_terms
from knowledge.retrieval import Hit

NOT_COVERED = "My notes don't cover that yet, so I'll leave it to a mod."
MAX_PASSAGE_CHARS = 700


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic weights over the abstention features.

    Set by hand on eval/examples_questions and checked by bench/calibrate_abstention.py on
    held-out corpus questions (abstained on 3 of 4 unanswerable, wrongly on 2 of 21). A
    logistic fit on the 50 training questions did worse on the held-out half (wrongly
    abstained on 5 of 21), so these weights stay until there are more unanswerable examples.
    """

    bias: float = -9.0
    dense: float = 12.0
    coverage: float = 3.0
    agreement: float = 1.0
    threshold: float = 0.5

    def score(self, features: dict[str, float]) -> float:
        z = (
            self.bias
            + self.dense * features["dense"]
            + self.coverage * features["coverage"]
            + self.agreement * features["agreement"]
        )
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class Citation:
    title: str
    heading: str
    path: str | None
    url: str | None
    passage: str
    score: float
    source: str = ""

    @property
    def label(self) -> str:
        return f"{self.title} › {self.heading}" if self.heading else self.title


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "citations": [
                {
                    "title": c.title,
                    "heading": c.heading,
                    "path": c.path,
                    "url": c.url,
                    "passage": c.passage,
                    "score": round(c.score, 4),
                }
                for c in self.citations
            ],
        }


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def stems(words: list[str]) -> list[str]:
    return _stemmer().stemWords(words)


def answer_features(question: str, hits: list[Hit]) -> dict[str, float]:
    if not hits:
        return {"dense": 0.0, "coverage": 0.0, "agreement": 0.0}
    top = hits[0]
    dense = max((h.dense for h in hits[:3] if h.dense is not None), default=0.0)
    if top.dense is not None:
        dense = max(dense, top.dense)
    q = set(stems(query_terms(question)))
    passage = set(stems(query_terms(f"{top.chunk.prefix} {top.chunk.text}")))
    coverage = len(q & passage) / len(q) if q else 0.0
    agreement = 1.0 if top.dense_rank is not None and top.lexical_rank is not None else 0.0
    return {"dense": float(dense), "coverage": coverage, "agreement": agreement}


def compose_answer(question: str, hits: list[Hit], model: ConfidenceModel) -> Answer:
    features = answer_features(question, hits)
    confidence = model.score(features) if hits else 0.0
    citations = [
        Citation(
            title=h.chunk.title,
            heading=h.chunk.heading,
            path=h.chunk.path,
            url=h.chunk.url,
            passage=trim_passage(question, h.chunk.text),
            score=h.score,
            source=h.chunk.source,
        )
        for h in hits
    ]
    if not hits or confidence < model.threshold:
        return Answer(question, NOT_COVERED, True, confidence, citations, features)
    return Answer(question, citations[0].passage, False, confidence, citations, features)


_UNIT = re.compile(r"[^\n]+?(?:[.!?](?=\s)|\n|$)", re.DOTALL)


def trim_passage(question: str, text: str, limit: int = MAX_PASSAGE_CHARS) -> str:
    """The window of consecutive lines/sentences that holds most of the question's words."""
    text = text.strip()
    if len(text) <= limit:
        return text
    units = [m.group(0) for m in _UNIT.finditer(text) if m.group(0).strip()]
    if not units:
        return text[:limit].rstrip() + "…"
    q = set(stems(query_terms(question)))
    scores = [len(q & set(stems(query_terms(u)))) for u in units]
    best_start, best_end, best_score = 0, 0, -1
    for start in range(len(units)):
        length, score, end = 0, 0, start
        while end < len(units) and length + len(units[end]) <= limit:
            length += len(units[end])
            score += scores[end]
            end += 1
        if end == start:  # one unit longer than the limit
            end, score = start + 1, scores[start]
        if score > best_score:
            best_start, best_end, best_score = start, end, score
    passage = "".join(units[best_start:best_end]).strip()
    if len(passage) > limit:
        passage = passage[:limit].rsplit(" ", 1)[0]
    return ("… " if best_start > 0 else "") + passage + (" …" if best_end < len(units) else "")

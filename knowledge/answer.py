"""Extractive answers in three tiers: answer, suggest, or decline.

A single "answer or decline" switch cannot be both safe and useful: on casual chat questions
the right passage's cosine often sits in the same range as a wrong one's. So a calibrated
confidence (a logistic model over ranking signals, fitted by cross-validation in
bench/tune_ranking.py) picks one of three tiers:

- *answer*: the passage that answers, trimmed to the part around its best sentence window;
- *suggest*: "I'm not sure; these notes look closest", with up to three short passages;
- *decline*: "my notes don't cover that", and the Ask-a-mod path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from knowledge.catalog import query_terms, stem_set, stems
from knowledge.readable import same_passage
from knowledge.retrieval import Hit

ANSWER, SUGGEST, DECLINE = "answer", "suggest", "decline"
MODES = (ANSWER, SUGGEST, DECLINE)

NOT_COVERED = "My notes don't cover that yet, so I'll leave it to a mod."
NOT_SURE = "I'm not sure; these notes look closest:"
NOT_SURE_WRITTEN = "I'm not sure; this is what the closest notes say:"  # over a written text
MAX_PASSAGE_CHARS = 700
MAX_SUGGESTION_CHARS = 600
MAX_SUGGESTIONS = 3

# The signals the confidence model reads, in the order of its weights.
FEATURES = ("passage", "margin", "dense", "fused", "coverage", "agreement", "same_doc")


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic weights over FEATURES and the two thresholds that pick the tier.

    The shipped numbers come from `bench/tune_ranking.py` on all of
    eval/corpus_questions.jsonl, the weights on hits of a reranker cross-fitted without each
    question and the thresholds for <= 7% wrong answers; its 5-fold held-out figures are the
    ones reported (8.8% of answerable questions answered wrongly, 4.2% of unanswerable ones
    answered). eval/examples_questions.jsonl was never fitted on.
    """

    weights: tuple[float, ...] = (5.0599, 2.2029, -3.3142, 3.4439, 1.5608, -1.975, -0.3274)
    bias: float = -6.2751
    answer_at: float = 0.6309  # confidence at or above: answer
    suggest_at: float = 0.1294  # at or above (and below answer_at): suggest; below: decline

    def score(self, features: dict[str, float]) -> float:
        z = self.bias + sum(
            w * features[name] for w, name in zip(self.weights, FEATURES, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def mode(self, confidence: float) -> str:
        if confidence >= self.answer_at:
            return ANSWER
        return SUGGEST if confidence >= self.suggest_at else DECLINE


@dataclass(frozen=True)
class Citation:
    title: str
    heading: str
    path: str | None
    url: str | None
    passage: str
    score: float
    source: str = ""
    chunk_id: str = ""
    doc_id: str = ""

    @property
    def label(self) -> str:
        return f"{self.title} › {self.heading}" if self.heading else self.title


@dataclass
class Answer:
    question: str
    text: str
    mode: str
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    suggestions: list[Citation] = field(default_factory=list)
    learned_id: int | None = None  # the passage comes from this confirmed earlier answer
    # A written answer (knowledge/written.py): the model that wrote `text`, and the numbers of
    # the citations it cites ([1] is citations[0]), the one it rests on most first.
    written_by: str | None = None
    cited: tuple[int, ...] = ()
    # The search hits the answer was composed from (the passages a model may write from).
    hits: list[Hit] = field(default_factory=list, repr=False, compare=False)

    @property
    def learned(self) -> bool:
        return self.learned_id is not None

    @property
    def written(self) -> bool:
        return self.written_by is not None

    @property
    def rests_on(self) -> Citation | None:
        """The passage presented as the answer (what a 👍 confirms): the first one cited."""
        if self.mode != ANSWER or not self.citations:
            return None
        if self.cited and 1 <= self.cited[0] <= len(self.citations):
            return self.citations[self.cited[0] - 1]
        return self.citations[0]

    @property
    def abstained(self) -> bool:
        """No passage is presented as the answer (a suggestion or a decline)."""
        return self.mode != ANSWER

    @property
    def shown(self) -> list[str]:
        """The passage texts the fan sees, in order (a written suggestion's text first)."""
        if self.mode == ANSWER:
            return [self.text]
        if self.mode == SUGGEST:
            written = [self.text] if self.written else []
            return written + [s.passage for s in self.suggestions]
        return []

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "mode": self.mode,
            "shown": self.shown,
            "abstained": self.abstained,
            "learned": self.learned,
            "confidence": round(self.confidence, 4),
            "citations": [_citation_json(c) for c in self.citations],
            "suggestions": [_citation_json(c) for c in self.suggestions],
        }


def _citation_json(c: Citation) -> dict:
    return {
        "title": c.title,
        "heading": c.heading,
        "path": c.path,
        "url": c.url,
        "passage": c.passage,
        "score": round(c.score, 4),
    }


def answer_features(question: str, hits: list[Hit]) -> dict[str, float]:
    """The ranking signals of the top hit, which the confidence model weighs."""
    if not hits:
        return dict.fromkeys(FEATURES, 0.0)
    top = hits[0]

    def passage(h: Hit) -> float:
        return h.passage if h.passage is not None else (h.dense or 0.0)

    second = next((passage(h) for h in hits[1:] if h.chunk.doc_id != top.chunk.doc_id), 0.0)
    q = stem_set(question)
    text = stem_set(top.chunk.prefix) | stem_set(top.chunk.text)
    return {
        "passage": passage(top),
        "margin": passage(top) - second,
        "dense": top.dense or 0.0,
        "fused": top.fused,
        "coverage": len(q & text) / len(q) if q else 0.0,
        "agreement": 1.0 if top.dense_rank is not None and top.lexical_rank is not None else 0.0,
        "same_doc": float(sum(h.chunk.doc_id == top.chunk.doc_id for h in hits[1:3])),
    }


def citation_for(question: str, hit: Hit, limit: int = MAX_PASSAGE_CHARS) -> Citation:
    return Citation(
        title=hit.chunk.title,
        heading=hit.chunk.heading,
        path=hit.chunk.path,
        url=hit.chunk.url,
        passage=focus_passage(question, hit.chunk.text, hit.span, limit),
        score=hit.score,
        source=hit.chunk.source,
        chunk_id=hit.chunk.chunk_id,
        doc_id=hit.chunk.doc_id,
    )


def compose_answer(question: str, hits: list[Hit], model: ConfidenceModel) -> Answer:
    features = answer_features(question, hits)
    confidence = model.score(features) if hits else 0.0
    mode = model.mode(confidence) if hits else DECLINE
    citations = [citation_for(question, h) for h in hits]
    if mode == ANSWER:
        return Answer(
            question, citations[0].passage, ANSWER, confidence, citations, features, hits=hits
        )
    if mode == SUGGEST:
        return Answer(
            question,
            NOT_SURE,
            SUGGEST,
            confidence,
            citations,
            features,
            suggestions_for(question, hits),
            hits=hits,
        )
    return Answer(question, NOT_COVERED, DECLINE, confidence, citations, features, hits=hits)


def suggestions_for(question: str, hits: list[Hit]) -> list[Citation]:
    """Up to three short passages in the order of `hits`, no two saying the same thing."""
    kept: list[Citation] = []
    for h in distinct(hits):
        citation = citation_for(question, h, MAX_SUGGESTION_CHARS)
        if not any(same_passage(citation.passage, k.passage) for k in kept):
            kept.append(citation)
        if len(kept) == MAX_SUGGESTIONS:
            break
    return kept


def learned_answer(
    question: str, hit: Hit, hits: list[Hit], entry_id: int, similarity: float
) -> Answer:
    """An answer from a confirmed earlier question; the search's hits follow as sources."""
    first = citation_for(question, hit)
    others = [citation_for(question, h) for h in hits if h.chunk.chunk_id != hit.chunk.chunk_id]
    return Answer(
        question,
        first.passage,
        ANSWER,
        similarity,
        [first, *others],
        {"learned_similarity": similarity},
        learned_id=entry_id,
        hits=hits,
    )


def distinct(hits: list[Hit]) -> list[Hit]:
    """Hits without neighbours that overlap a better one of the same document."""
    kept: list[Hit] = []
    for h in hits:
        if not any(k.chunk.doc_id == h.chunk.doc_id and k.chunk.text == h.chunk.text for k in kept):
            kept.append(h)
    return kept


_UNIT = re.compile(r"[^\n]+?(?:[.!?](?=\s)|\n|$)", re.DOTALL)


def focus_passage(
    question: str, text: str, span: tuple[int, int] | None, limit: int = MAX_PASSAGE_CHARS
) -> str:
    """The part of a chunk to show: its best window, widened with neighbouring sentences."""
    text_stripped = text.strip()
    if len(text_stripped) <= limit:
        return text_stripped
    if span is None or (span[0] <= 0 and span[1] >= len(text)):
        return trim_passage(question, text, limit)
    units = [(m.start(), m.end()) for m in _UNIT.finditer(text) if m.group(0).strip()]
    inside = [i for i, (a, b) in enumerate(units) if b > span[0] and a < span[1]]
    if not inside:
        return trim_passage(question, text, limit)
    lo, hi = inside[0], inside[-1]
    if units[hi][1] - units[lo][0] > limit:  # the window alone is too long: cut it
        cut = text[units[lo][0] : units[lo][0] + limit].rsplit(" ", 1)[0].strip()
        return ("… " if lo > 0 else "") + cut + " …"
    grow_before = True
    while True:  # widen one unit at a time, alternating sides, while it fits
        widened = False
        for before in (grow_before, not grow_before):
            if before and lo > 0 and units[hi][1] - units[lo - 1][0] <= limit:
                lo, widened = lo - 1, True
                break
            if not before and hi + 1 < len(units) and units[hi + 1][1] - units[lo][0] <= limit:
                hi, widened = hi + 1, True
                break
        grow_before = not grow_before
        if not widened:
            break
    passage = text[units[lo][0] : units[hi][1]].strip()
    return ("… " if lo > 0 else "") + passage + (" …" if hi + 1 < len(units) else "")


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

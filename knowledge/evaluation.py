"""Retrieval and abstention evaluation over a JSON-lines question set."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowledge.answer import ANSWER, DECLINE, SUGGEST, Answer, compose_answer
from knowledge.base import KnowledgeBase
from knowledge.written import Written

KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    source: str
    heading: str
    answer_hint: str
    kind: str

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_questions(path: Path) -> list[Question]:
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(Question(**{f: str(row.get(f, "")) for f in Question.__annotations__}))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a question line ({exc})") from None
    return questions


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def shown_right(shown: list[str], answer_hint: str) -> bool:
    """The fan's measure: the normalised answer hint is inside a passage they were shown."""
    hint = _norm(answer_hint)
    return bool(hint) and any(hint in _norm(text) for text in shown)


def evaluate(
    kb: KnowledgeBase,
    questions: list[Question],
    k: int = 10,
    write: Callable[[Answer], Written] | None = None,
) -> dict:
    """Recall@1/3/5/10 and MRR@10 on answerable questions, and what the fan is shown.

    `answered_right`, `answered_wrong`, `suggested_right` and `declined` are shares of the
    answerable questions; `unanswerable_answered` is the share of unanswerable questions that
    were given an *answer* (a suggestion is not one). With `write` (a language model, see
    knowledge/written.py) the fan's view is that of written answers, and `llm` sums up the calls.
    """
    per_question = []
    written: list[Written] = []
    for q in questions:
        hits = kb.search(q.question, k=max(k, 10))
        answer = compose_answer(q.question, hits[:5], kb.library.confidence)
        if write is not None:
            written.append(write(answer))
            answer = written[-1].answer
        rank = None
        if q.answerable:
            hint = _norm(q.answer_hint)
            for i, hit in enumerate(hits[:10], start=1):
                if hit.chunk.path == q.source and hint in _norm(hit.chunk.text):
                    rank = i
                    break
        per_question.append(
            {
                "id": q.id,
                "kind": q.kind,
                "question": q.question,
                "rank": rank,
                "mode": answer.mode,
                "shown": answer.shown,
                "right": q.answerable and shown_right(answer.shown, q.answer_hint),
                "abstained": answer.abstained,
                "confidence": round(answer.confidence, 4),
                "features": {key: round(v, 4) for key, v in answer.features.items()},
                "top": hits[0].chunk.path if hits else None,
                **(_written_row(q, answer, written[-1]) if write is not None else {}),
            }
        )
    result = summarise(per_question)
    if write is not None:
        result["llm"] = summarise_written(written)
    return result


def _written_row(q: Question, answer: Answer, written: Written) -> dict:
    """A written answer's own columns: "right" judges its text (a paraphrase may miss the
    hint), `cited_right` whether a passage it cites holds the hint."""
    cited = [answer.citations[n - 1].passage for n in answer.cited] if answer.written else []
    return {
        "written": answer.written,
        "llm_outcome": written.outcome,
        "cited_right": q.answerable and shown_right(cited, q.answer_hint),
    }


def summarise_written(written: list[Written]) -> dict:
    """What the model did over a question set: outcomes, failures' reasons, tokens, time."""
    called = [w for w in written if w.called]
    seconds = sorted(w.seconds for w in called)
    return {
        "calls": len(called),
        "written_answers": sum(1 for w in written if w.answer.written),
        "outcomes": dict(Counter(w.outcome for w in written)),
        "reasons": dict(Counter(w.reason for w in written if w.reason)),
        "prompt_tokens": sum(w.usage.prompt_tokens for w in called),
        "completion_tokens": sum(w.usage.completion_tokens for w in called),
        "seconds_mean": round(sum(seconds) / len(seconds), 4) if seconds else 0.0,
        "seconds_p95": round(seconds[int(0.95 * (len(seconds) - 1))], 4) if seconds else 0.0,
    }


def summarise(per_question: list[dict]) -> dict:
    """Overall figures from per-question rows (rank, mode, right, abstained, kind)."""
    answerable = [r for r in per_question if r["kind"] != "unanswerable"]
    unanswerable = [r for r in per_question if r["kind"] == "unanswerable"]

    def share(rows: list[dict], pred) -> float:
        return sum(1 for r in rows if pred(r)) / len(rows) if rows else 0.0

    result: dict = {
        f"recall@{n}": share(answerable, lambda r, n=n: r["rank"] is not None and r["rank"] <= n)
        for n in KS
    }
    result["mrr@10"] = (
        sum(1 / r["rank"] for r in answerable if r["rank"]) / len(answerable) if answerable else 0.0
    )
    result["answered_right"] = share(answerable, lambda r: r["mode"] == ANSWER and r["right"])
    result["answered_wrong"] = share(answerable, lambda r: r["mode"] == ANSWER and not r["right"])
    result["suggested_right"] = share(answerable, lambda r: r["mode"] == SUGGEST and r["right"])
    result["suggested_wrong"] = share(answerable, lambda r: r["mode"] == SUGGEST and not r["right"])
    result["declined"] = share(answerable, lambda r: r["mode"] == DECLINE)
    result["shown_right"] = result["answered_right"] + result["suggested_right"]
    result["unanswerable_answered"] = share(unanswerable, lambda r: r["mode"] == ANSWER)
    result["unanswerable_declined"] = share(unanswerable, lambda r: r["mode"] == DECLINE)
    result["abstain_unanswerable"] = share(unanswerable, lambda r: r["abstained"])
    result["wrong_abstain"] = share(answerable, lambda r: r["abstained"])
    result["n_answerable"] = len(answerable)
    result["n_unanswerable"] = len(unanswerable)
    result["questions"] = per_question
    return result

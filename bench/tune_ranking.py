"""Choose the ranking settings and fit the answer-tier model by k-fold cross-validation.

    python bench/tune_ranking.py --data-dir D [--kb corpus]
        [--questions eval/corpus_questions.jsonl] [--folds 5] [--seed 7]
        [--holdout-data-dir E --holdout-kb examples --holdout eval/examples_questions.jsonl]

Nothing is fitted on the questions a figure is reported for: in each fold the ranking
settings (RRF constant, candidates, rescoring depth, passage weight) are picked and the
confidence model (logistic weights and the two tier thresholds) is fitted on the other folds,
then the held-out fold is answered through `knowledge.answer.compose_answer`. The printed
fan-facing figures are the pooled held-out folds. Finally everything is fitted once on all the
questions: those are the numbers to ship in `RankSettings` and `ConfidenceModel`, and the
`--holdout` set (never fitted on) is reported with them. Results: bench/results/tune_ranking.json.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import itertools  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from knowledge.answer import (  # noqa: E402
    FEATURES,
    MAX_SUGGESTIONS,
    ConfidenceModel,
    answer_features,
    compose_answer,
)
from knowledge.base import Library  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402
from knowledge.evaluation import _norm, load_questions, shown_right, summarise  # noqa: E402
from knowledge.rerank import RerankModel  # noqa: E402
from knowledge.retrieval import (  # noqa: E402
    PUBLIC_ONLY,
    RankSettings,
    gather_candidates,
    pool_features,
    rank_candidates,
)

GRID = [
    RankSettings(candidates=n, rrf_k=k, rescore=r, passage_weight=w)
    for n, k, r, w in itertools.product(
        (40, 100), (5, 10, 20, 60), (0, 30, 50), (1.0, 2.0, 4.0, 8.0)
    )
    if not (r == 0 and w != 1.0)  # without rescoring the weight means nothing
]
TODAY = RankSettings(candidates=40, rrf_k=60, rescore=0)  # the fusion before this work
POOL = RankSettings(candidates=100, rrf_k=20, rescore=30)  # the pool the reranker orders
MAX_WRONG = 0.07  # thresholds are fitted for <= 7% wrong answers, to hold <= 10% held out
MAX_LOST = 0.03  # declining may cost at most 3% of answerable questions a right suggestion


def prepare(kb, questions):
    """Embed each question once and keep its candidates (100 from each retriever)."""
    rows = []
    for q in questions:
        vector = kb.embedder.encode_query(q.question)
        candidates = gather_candidates(
            q.question,
            vector,
            catalog=kb.catalog,
            collection=kb.collection,
            search_filter=PUBLIC_ONLY,
            n=100,
        )
        rows.append((q, vector, candidates))
    return rows


def hits_for(kb, row, ranking):
    q, vector, candidates = row
    return rank_candidates(
        q.question,
        candidates,
        vector,
        catalog=kb.catalog,
        k=10,
        search_filter=PUBLIC_ONLY,
        ranking=ranking,
    )


def is_right(q, chunk) -> bool:
    return q.answerable and chunk.path == q.source and _norm(q.answer_hint) in _norm(chunk.text)


def fit_reranker(kb, rows, indices, features_cache) -> RankSettings:
    """A RerankModel fitted on these questions' pools (answerable questions only)."""
    xs, ys = [], []
    for i in indices:
        q = rows[i][0]
        if not q.answerable:
            continue
        chunks, x = features_cache[i]
        xs.append(x)
        ys += [1.0 if is_right(q, c) else 0.0 for c in chunks]
    weights, bias = fit_logistic(np.vstack(xs), np.asarray(ys))
    model = RerankModel(
        weights=tuple(round(float(w), 4) for w in weights), bias=round(float(bias), 4)
    )
    return dataclasses.replace(POOL, rerank=model)


def rank_of(q, hits) -> int | None:
    for i, hit in enumerate(hits[:10], start=1):
        if is_right(q, hit.chunk):
            return i
    return None


def mrr(ranks) -> float:
    return sum(1 / r for r in ranks if r) / len(ranks) if ranks else 0.0


def pick_ranking(kb, rows, cache) -> RankSettings:
    answerable = [i for i, r in enumerate(rows) if r[0].answerable]
    best, best_mrr = GRID[0], -1.0
    for ranking in GRID:
        score = mrr([cache[ranking][i] for i in answerable])
        if score > best_mrr + 1e-9:
            best, best_mrr = ranking, score
    return best


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method, on standardised features."""
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    reg = np.eye(z.shape[1]) * l2
    reg[0, 0] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + reg @ w
        hess = z.T @ (z * (p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = w[1:] / std
    bias = w[0] - float((w[1:] * mean / std).sum())
    return weights, bias


def fit_confidence(samples) -> ConfidenceModel:
    """samples: (question, features, answer_right, suggestions_right)."""
    x = np.array([[f[name] for name in FEATURES] for _, f, _, _ in samples])
    y = np.array([1.0 if right else 0.0 for _, _, right, _ in samples])
    weights, bias = fit_logistic(x, y)
    model = ConfidenceModel(weights=tuple(float(w) for w in weights), bias=float(bias))
    scored = [(model.score(f), q, right, sugg) for q, f, right, sugg in samples]
    n_ans = max(1, sum(q.answerable for _, q, _, _ in scored))
    n_un = max(1, sum(not q.answerable for _, q, _, _ in scored))
    answer_at = 1.0
    for t in sorted({round(s, 4) for s, *_ in scored}, reverse=True):
        wrong = sum(1 for s, q, right, _ in scored if s >= t and q.answerable and not right)
        unans = sum(1 for s, q, _, _ in scored if s >= t and not q.answerable)
        if wrong / n_ans > MAX_WRONG or unans / n_un > MAX_WRONG:
            break
        answer_at = t
    suggest_at = 0.0
    for t in sorted({round(s, 4) for s, *_ in scored if s < answer_at}):
        lost = sum(1 for s, q, _, sugg in scored if s < t and q.answerable and sugg)
        if lost / n_ans > MAX_LOST:
            break
        suggest_at = t
    return ConfidenceModel(
        weights=model.weights, bias=model.bias, answer_at=answer_at, suggest_at=suggest_at
    )


def samples_for(kb, rows, indices, ranking, hits_cache):
    out = []
    for i in indices:
        q = rows[i][0]
        hits = hits_cache[(ranking, i)][:5]
        features = answer_features(q.question, hits)
        # What the fan would see in each tier, judged by the same rule as the report.
        as_answer = compose_answer(q.question, hits, ConfidenceModel(answer_at=0.0))
        as_suggest = compose_answer(
            q.question, hits, ConfidenceModel(answer_at=2.0, suggest_at=0.0)
        )
        right = q.answerable and shown_right(as_answer.shown, q.answer_hint)
        sugg = q.answerable and shown_right(as_suggest.shown[:MAX_SUGGESTIONS], q.answer_hint)
        out.append((q, features, right, sugg))
    return out


def answer_rows(kb, rows, indices, ranking, model, hits_cache):
    result = []
    for i in indices:
        q = rows[i][0]
        hits = hits_cache[(ranking, i)]
        answer = compose_answer(q.question, hits[:5], model)
        result.append(
            {
                "id": q.id,
                "kind": q.kind,
                "question": q.question,
                "rank": rank_of(q, hits) if q.answerable else None,
                "mode": answer.mode,
                "shown": answer.shown,
                "right": q.answerable and shown_right(answer.shown, q.answer_hint),
                "abstained": answer.abstained,
                "confidence": round(answer.confidence, 4),
            }
        )
    return result


def folds_of(rows, k: int, seed: int) -> list[list[int]]:
    """k folds, stratified by doc set and by answerable/unanswerable."""
    groups: dict[str, list[int]] = {}
    for i, (q, _, _) in enumerate(rows):
        groups.setdefault(q.source.split("/")[0] if q.answerable else "~", []).append(i)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        for j, i in enumerate(members):
            folds[(j + offset) % k].append(i)
        offset += len(members)
    return folds


def figures(result: dict) -> dict:
    keys = (
        "recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "answered_right",
        "answered_wrong", "suggested_right", "suggested_wrong", "declined", "shown_right",
        "unanswerable_answered", "unanswerable_declined", "n_answerable", "n_unanswerable",
    )  # fmt: skip
    return {k: round(result[k], 4) if isinstance(result[k], float) else result[k] for k in keys}


def cross_fitted(kb, rows, indices, folds_n, seed, features_cache, hits_cache):
    """Hits for each question from a reranker fitted without it (inner folds)."""
    inner = folds_of([rows[i] for i in indices], folds_n, seed + 1)
    out = {}
    for fold in inner:
        test = [indices[j] for j in fold]
        train = [i for i in indices if i not in set(test)]
        ranking = fit_reranker(kb, rows, train, features_cache)
        for i in test:
            hits_cache[(ranking, i)] = hits_for(kb, rows[i], ranking)
            out[i] = ranking
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--kb", default="corpus")
    parser.add_argument("--questions", type=Path, default=_common.QUESTION_FILES[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--holdout-data-dir", type=Path)
    parser.add_argument("--holdout-kb", default="examples")
    parser.add_argument("--holdout", type=Path, default=_common.QUESTION_FILES[1])
    args = parser.parse_args(argv)

    embedder = Embedder()
    library = Library(args.data_dir, embedder)
    kb = library.open(args.kb)
    questions = load_questions(args.questions)
    rows = prepare(kb, questions)
    n_rows = len(rows)
    print(f"{n_rows} questions, {len(GRID)} fusion settings", file=sys.stderr)

    hits_cache: dict = {}
    rank_cache: dict[RankSettings, list[int | None]] = {}
    for ranking in [TODAY, *GRID]:
        ranks = []
        for i, row in enumerate(rows):
            hits = hits_for(kb, row, ranking)
            hits_cache[(ranking, i)] = hits
            ranks.append(rank_of(row[0], hits) if row[0].answerable else None)
        rank_cache[ranking] = ranks
    features_cache = {
        i: pool_features(
            q.question, cands, vec, catalog=kb.catalog, search_filter=PUBLIC_ONLY, ranking=POOL
        )
        for i, (q, vec, cands) in enumerate(rows)
    }

    folds = folds_of(rows, args.folds, args.seed)
    answerable = [i for i in range(n_rows) if rows[i][0].answerable]

    # 1. Ranking alone, both families, on held-out folds.
    family_ranks: dict[str, dict[int, int | None]] = {"fusion": {}, "rerank": {}}
    for test in folds:
        train = [i for f in folds if f is not test for i in f]
        fusion = pick_ranking(
            kb, [rows[i] for i in train], {g: [rank_cache[g][i] for i in train] for g in GRID}
        )
        rerank = fit_reranker(kb, rows, train, features_cache)
        for i in test:
            family_ranks["fusion"][i] = rank_cache[fusion][i]
            family_ranks["rerank"][i] = rank_of(rows[i][0], hits_for(kb, rows[i], rerank))
    ranking_cv = {}
    for family, ranks in family_ranks.items():
        r = [ranks[i] for i in answerable]
        ranking_cv[family] = {
            **{
                f"recall@{n}": round(sum(1 for x in r if x and x <= n) / len(r), 4)
                for n in (1, 3, 5, 10)
            },
            "mrr@10": round(mrr(r), 4),
        }
    today_r = [rank_cache[TODAY][i] for i in answerable]
    ranking_cv["before"] = {
        **{
            f"recall@{n}": round(sum(1 for x in today_r if x and x <= n) / len(today_r), 4)
            for n in (1, 3, 5, 10)
        },
        "mrr@10": round(mrr(today_r), 4),
    }
    print("\nranking on held-out folds (before = k 60, 40 candidates, no rescoring):")
    _common.print_table(
        [[fam, *vals.values()] for fam, vals in ranking_cv.items()],
        ["ranking", "R@1", "R@3", "R@5", "R@10", "MRR@10"],
    )

    # 2. The whole answer path with the reranker: tiers fitted on cross-fitted train hits.
    pooled: list[dict] = []
    chosen = []
    for n, test in enumerate(folds):
        train = [i for f in folds if f is not test for i in f]
        inner = cross_fitted(kb, rows, train, args.folds, args.seed, features_cache, hits_cache)
        samples = []
        for i in train:
            samples += samples_for(kb, rows, [i], inner[i], hits_cache)
        model = fit_confidence(samples)
        ranking = fit_reranker(kb, rows, train, features_cache)
        for i in test:
            hits_cache[(ranking, i)] = hits_for(kb, rows[i], ranking)
        chosen.append({"fold": n, "model": asdict(model)})
        pooled += answer_rows(kb, rows, test, ranking, model, hits_cache)
    cv = figures(summarise(pooled))

    all_idx = list(range(n_rows))
    final_ranking = fit_reranker(kb, rows, all_idx, features_cache)
    inner = cross_fitted(kb, rows, all_idx, args.folds, args.seed, features_cache, hits_cache)
    samples = []
    for i in all_idx:
        samples += samples_for(kb, rows, [i], inner[i], hits_cache)
    final_model = fit_confidence(samples)
    print("\nwhat the fan sees, held-out folds (pooled):")
    _common.print_table([[k, v] for k, v in cv.items()], ["figure", "value"])
    print(f"\nper-fold tier models: {[c['model'] for c in chosen]}")
    print(f"\nfitted on all {n_rows}:\n{final_ranking}\n{final_model}")

    payload = {
        "machine": _common.machine_note(),
        "code": _common.code_version(),
        "questions": str(args.questions),
        "folds": args.folds,
        "ranking_cv": ranking_cv,
        "cv": cv,
        "per_fold": chosen,
        "final_ranking": asdict(final_ranking),
        "final_model": asdict(final_model),
        "cv_questions": pooled,
    }
    if args.holdout_data_dir:
        hold_lib = Library(args.holdout_data_dir, embedder)
        hold_kb = hold_lib.open(args.holdout_kb)
        hold_rows = prepare(hold_kb, load_questions(args.holdout))
        cache = {
            (final_ranking, i): hits_for(hold_kb, row, final_ranking)
            for i, row in enumerate(hold_rows)
        }
        held = figures(
            summarise(
                answer_rows(
                    hold_kb, hold_rows, range(len(hold_rows)), final_ranking, final_model, cache
                )
            )
        )
        print(f"\nheld-out set {args.holdout} with the shipped fit:")
        _common.print_table([[k, v] for k, v in held.items()], ["figure", "value"])
        payload["holdout"] = held
    path = _common.write_results("tune_ranking.json", payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

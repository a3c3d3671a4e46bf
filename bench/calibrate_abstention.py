"""Fit the abstention model (knowledge.answer.ConfidenceModel) and report it on held-out questions.

Protocol: train on eval/examples_questions.jsonl (against a knowledge base of examples/notes)
plus the odd-numbered lines of eval/corpus_questions.jsonl (against ../shared/corpus); report
on the even-numbered corpus lines, which the fit never sees. The label is whether the question
is answerable by the notes; the features are those `answer_features` computes for the top 5.

    python bench/calibrate_abstention.py --data-dir D [--examples-kb examples] [--corpus-kb corpus]

The knowledge bases must exist in D (e.g. built by bench/eval_corpus.py or `greenroom ingest`).
Prints the fitted weights; paste them into ConfidenceModel's defaults.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from knowledge.answer import ConfidenceModel, answer_features  # noqa: E402
from knowledge.base import Library  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402
from knowledge.evaluation import load_questions  # noqa: E402

FEATURES = ("dense", "coverage", "agreement")
ROOT = Path(__file__).resolve().parent.parent


def featurize(kb, questions) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for q in questions:
        hits = kb.search(q.question, k=5)
        f = answer_features(q.question, hits)
        rows.append([f[name] for name in FEATURES])
        labels.append(1.0 if q.answerable else 0.0)
    return np.array(rows), np.array(labels)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 5000) -> np.ndarray:
    """Weighted logistic regression (classes balanced), plain gradient descent."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    weights = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (weights * (p - y)) / len(y) + l2 * np.r_[0, w[1:]]
        w -= 2.0 * grad
    return w


def rates(model: ConfidenceModel, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    scores = np.array([model.score(dict(zip(FEATURES, row, strict=True))) for row in x])
    abstain = scores < model.threshold
    return float(abstain[y == 0].mean()), float(abstain[y == 1].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--examples-kb", default="examples")
    parser.add_argument("--corpus-kb", default="corpus")
    args = parser.parse_args()

    library = Library(args.data_dir, Embedder())
    examples = load_questions(ROOT / "eval/examples_questions.jsonl")
    corpus = load_questions(ROOT / "eval/corpus_questions.jsonl")
    x_ex, y_ex = featurize(library.open(args.examples_kb), examples)
    x_co, y_co = featurize(library.open(args.corpus_kb), corpus)
    train_x = np.vstack([x_ex, x_co[1::2]])
    train_y = np.r_[y_ex, y_co[1::2]]
    test_x, test_y = x_co[0::2], y_co[0::2]

    w = fit_logistic(train_x, train_y)
    best = None
    for threshold in np.linspace(0.2, 0.8, 61):
        model = ConfidenceModel(*w, threshold=float(threshold))
        abstain_unans, wrong = rates(model, train_x, train_y)
        balanced = (abstain_unans + 1 - wrong) / 2
        if best is None or balanced > best[0] + 1e-9:
            best = (balanced, model)
    model = best[1]
    current = ConfidenceModel()
    print(
        f"train: {len(train_y)} questions ({int((train_y == 0).sum())} unanswerable);"
        f" held out: {len(test_y)} ({int((test_y == 0).sum())} unanswerable)"
    )
    print(
        "fitted:",
        ", ".join(f"{n}={v:.3f}" for n, v in zip(("bias", *FEATURES), w, strict=True)),
        f"threshold={model.threshold:.2f}",
    )
    for name, m in (("current defaults", current), ("fitted", model)):
        tr = rates(m, train_x, train_y)
        te = rates(m, test_x, test_y)
        print(
            f"{name:17s} train: abstain_unanswerable {tr[0]:.3f} wrong_abstain {tr[1]:.3f}"
            f" | held out: abstain_unanswerable {te[0]:.3f} wrong_abstain {te[1]:.3f}"
        )


if __name__ == "__main__":
    main()

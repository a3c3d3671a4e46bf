"""Does bf16 bulk encoding cost anything on the question set? Two stores, same corpus.

    GREENROOM_EMBED_BF16=false greenroom --data-dir F ingest ../shared/corpus --kb corpus
    greenroom --data-dir B ingest ../shared/corpus --kb corpus          # bf16, the default
    python bench/bf16_check.py --fp32-dir F --bf16-dir B [--kb corpus]

Compares every stored vector of one store with the same vector of the other (chunk vectors in
chromadb, passage vectors in the catalog), then evaluates the corpus questions on both with
the shipped ranking and tiers and prints the fan-facing figures side by side.
Writes bench/results/bf16_check.json.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from knowledge.base import Library  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402
from knowledge.evaluation import evaluate, load_questions  # noqa: E402

FIGURES = (
    "recall@1", "recall@3", "recall@5", "mrr@10", "answered_right", "answered_wrong",
    "suggested_right", "declined", "shown_right", "unanswerable_answered",
)  # fmt: skip


def cosines(a_kb, b_kb) -> dict[str, float]:
    ids = sorted(a_kb.catalog.chunk_ids() & b_kb.catalog.chunk_ids())
    got_a = a_kb.collection.get(ids=ids, include=["embeddings"])
    got_b = b_kb.collection.get(ids=ids, include=["embeddings"])
    va = dict(zip(got_a["ids"], got_a["embeddings"], strict=True))
    vb = dict(zip(got_b["ids"], got_b["embeddings"], strict=True))
    chunk = [float(np.dot(va[i], vb[i])) for i in ids]
    pa, pb = a_kb.catalog.passages(ids), b_kb.catalog.passages(ids)
    passage = [
        float(x.vector.astype(np.float32) @ y.vector.astype(np.float32))
        for i in ids
        for x, y in zip(pa.get(i, []), pb.get(i, []), strict=True)
    ]
    return {
        "chunks": len(chunk),
        "chunk_cos_min": round(min(chunk), 6),
        "chunk_cos_mean": round(float(np.mean(chunk)), 6),
        "passages": len(passage),
        "passage_cos_min": round(min(passage), 6),
        "passage_cos_mean": round(float(np.mean(passage)), 6),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32-dir", type=Path, required=True)
    parser.add_argument("--bf16-dir", type=Path, required=True)
    parser.add_argument("--kb", default="corpus")
    parser.add_argument("--questions", type=Path, default=_common.QUESTION_FILES[0])
    args = parser.parse_args(argv)
    embedder = Embedder()
    fp32 = Library(args.fp32_dir, embedder).open(args.kb)
    bf16 = Library(args.bf16_dir, embedder).open(args.kb)
    questions = load_questions(args.questions)
    vectors = cosines(fp32, bf16)
    results = {name: evaluate(kb, questions) for name, kb in (("fp32", fp32), ("bf16", bf16))}
    rows = [[k, round(results["fp32"][k], 4), round(results["bf16"][k], 4)] for k in FIGURES]
    _common.print_table(rows, ["figure", "fp32 ingest", "bf16 ingest"])
    print(f"\nvectors: {vectors}")
    changed = sum(
        1
        for a, b in zip(results["fp32"]["questions"], results["bf16"]["questions"], strict=True)
        if (a["mode"], a["rank"], a["right"]) != (b["mode"], b["rank"], b["right"])
    )
    print(f"questions whose tier, rank or rightness differs: {changed} of {len(questions)}")
    payload = {
        "machine": _common.machine_note(),
        "code": _common.code_version(),
        "vectors": vectors,
        "figures": {name: {k: r[k] for k in FIGURES} for name, r in results.items()},
        "questions_differing": changed,
    }
    path = _common.write_results("bf16_check.json", payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""FTS5 lexical search compared with bm25s and with FTS5 over pruned query terms, on one catalog.

    python bench/lexical_alternatives.py --catalog S/kb/synthetic/catalog.sqlite3

Uses the catalog `query_bench.py --synthetic-dir S` leaves behind (or any KB's catalog) and
the same 200 queries. The baseline is the SQL of `Catalog.lexical_search`; "kept" is the share
of its top 10 found in the alternative's top 40 (the candidates fusion takes). Read-only.
Writes bench/results/lexical_alternatives.json.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import bm25s  # noqa: E402
import Stemmer  # noqa: E402
from query_bench import make_queries  # noqa: E402

from knowledge.catalog import STOPWORDS, query_terms  # noqa: E402

FTS_SQL = (
    "SELECT c.chunk_id, bm25(chunks_fts, 2.0, 1.0) AS score FROM chunks_fts"
    " JOIN chunks c ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? ORDER BY score LIMIT 40"
)


def fts(db: sqlite3.Connection, terms: list[str]) -> list[str]:
    if not terms:
        return []
    match = " OR ".join(f'"{t}"' for t in terms)
    return [r[0] for r in db.execute(FTS_SQL, (match,)).fetchall()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    db = sqlite3.connect(f"file:{args.catalog}?mode=ro", uri=True)
    queries = make_queries(_common.load_questions(), args.queries)
    rows = db.execute("SELECT chunk_id, prefix || ' ' || text FROM chunks").fetchall()
    ids = [r[0] for r in rows]
    n = len(ids)
    # Document frequency of each (porter-stemmed) term, from FTS5's own vocabulary.
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, chunks_fts, 'row')")
    df = dict(db.execute("SELECT term, doc FROM temp.vocab"))
    porter = Stemmer.Stemmer("porter")
    english = Stemmer.Stemmer("english")

    started = time.perf_counter()
    stop = list(STOPWORDS)
    corpus_tokens = bm25s.tokenize(
        [r[1] for r in rows], stopwords=stop, stemmer=english, show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(corpus_tokens, show_progress=False)
    bm25s_index_s = time.perf_counter() - started
    del rows, corpus_tokens

    def bm25s_top(terms: list[str]) -> list[str]:
        if not terms:
            return []
        tokens = bm25s.tokenize(
            [" ".join(terms)], stopwords=stop, stemmer=english, show_progress=False
        )
        if not tokens.vocab:
            return []
        docs, scores = retriever.retrieve(tokens, k=40, show_progress=False, n_threads=1)
        return [ids[i] for i, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def pruned(share: float):
        return lambda terms: fts(
            db, [t for t in terms if df.get(porter.stemWord(t), 0) / n <= share]
        )

    variants: dict[str, Any] = {"fts5 (product)": lambda terms: fts(db, terms)}
    variants["bm25s"] = bm25s_top
    for share in (0.1, 0.05):
        variants[f"fts5, terms in <= {share:.0%} of chunks"] = pruned(share)

    times: dict[str, list[float]] = {name: [] for name in variants}
    kept: dict[str, list[float]] = {name: [] for name in variants}
    for i, q in enumerate(queries):
        terms = query_terms(q)
        names = list(variants)
        names = names[i % len(names) :] + names[: i % len(names)]
        got: dict[str, list[str]] = {}
        for name in names:
            t0 = time.perf_counter()
            got[name] = variants[name](terms)
            times[name].append(time.perf_counter() - t0)
        reference = got["fts5 (product)"][:10]
        if reference:
            for name in variants:
                kept[name].append(len(set(reference) & set(got[name])) / len(reference))

    results: dict[str, Any] = {
        "machine": _common.machine_note(),
        "catalog": str(args.catalog),
        "chunks": n,
        "bm25s_index_s": round(bm25s_index_s, 2),
        "variants": {
            name: _common.latency_summary(times[name])
            | {"fts5_top10_kept_in_top40": round(statistics.fmean(kept[name]), 3)}
            for name in variants
        },
    }
    print(f"{n:,} chunks; bm25s index built in {bm25s_index_s:.1f} s")
    _common.print_table(
        [
            (name, v["p50_ms"], v["p95_ms"], v["fts5_top10_kept_in_top40"])
            for name, v in results["variants"].items()
        ],
        ["lexical retriever", "p50 ms", "p95 ms", "FTS5 top10 kept"],
    )
    path = _common.write_results("lexical_alternatives.json", results)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

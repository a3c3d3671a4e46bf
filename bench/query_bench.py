"""Query latency of KnowledgeBase.search/ask against the floor, on the corpus and at 100k chunks.

    python bench/query_bench.py [--data-dir D --kb corpus] [--synthetic-chunks 100000]

(a) The corpus knowledge base: `--data-dir D --kb NAME` reuses one (e.g. built with
    `greenroom --data-dir D ingest ../shared/corpus --kb corpus`); without it, or when it does
    not exist yet, the corpus is ingested first (a few minutes).
(b) A synthetic knowledge base of N chunks (default 100,000), built without the model: chunk
    texts are corpus chunks with a share of their words swapped for corpus vocabulary, vectors
    are the corpus chunk vectors plus noise (near-duplicates, cosine ~0.85-0.97 to their
    source), stored through the product's own calls (chroma upsert with `chunk_metadata`, then
    `Catalog.replace_document` in transactions), as `knowledge/indexing.py` does.
On each: ~200 queries (the eval questions, repeated and perturbed), each timed as
  floor    = embedder.encode_query + bare collection.query(n_results=10),
  search   = KnowledgeBase.search(k=5),   ask = KnowledgeBase.ask,
  lexical  = Catalog.lexical_search(limit=40) alone,
interleaved per query so that load from other processes falls on all alike; p50/p95 of each,
ratios search/floor and ask/floor; a second, instrumented pass splits search by phase; HNSW
recall@10 of the floor query against exact cosine. Writes bench/results/query.json.
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from ingest.chunking import HEADING_SEPARATOR, Chunk  # noqa: E402
from ingest.documents import Document  # noqa: E402
from ingest.loaders import FolderSource  # noqa: E402
from knowledge.base import KnowledgeBase, Library  # noqa: E402
from knowledge.catalog import query_terms  # noqa: E402
from knowledge.embedder import Embedder  # noqa: E402
from knowledge.indexing import chunk_metadata  # noqa: E402

SYNTHETIC_KB = "synthetic"
SYNTHETIC_SOURCE = "bench-synthetic"
CHROMA_BATCH = 5000
CATALOG_BATCH_DOCS = 500
WORD_SWAP = 0.3  # share of a synthetic chunk's words replaced by corpus vocabulary
_WORD = re.compile(r"\w+")


# -- queries ------------------------------------------------------------------------------
def make_queries(base: list[str], n: int, seed: int = 7) -> list[str]:
    """The questions once each, then chat-style variants of them until there are n."""
    rng = random.Random(seed)
    edits: list[Callable[[list[str]], list[str]]] = [
        lambda w: [x for i, x in enumerate(w) if i != rng.randrange(len(w))] if len(w) > 3 else w,
        lambda w: _swap_adjacent(w, rng),
        lambda w: _typo(w, rng),
        lambda w: [rng.choice(["hey", "quick q:", "yo", "does anyone know"]), *w],
        lambda w: [*w, rng.choice(["??", "pls", "lol", "thx"])],
    ]
    queries = list(base[:n])
    while len(queries) < n:
        words = rng.choice(base).split()
        for edit in rng.sample(edits, 2):
            words = edit(words)
        queries.append(" ".join(words))
    return queries


def _swap_adjacent(words: list[str], rng: random.Random) -> list[str]:
    if len(words) < 2:
        return words
    i = rng.randrange(len(words) - 1)
    return [*words[:i], words[i + 1], words[i], *words[i + 2 :]]


def _typo(words: list[str], rng: random.Random) -> list[str]:
    long_words = [i for i, w in enumerate(words) if len(w) > 4]
    if not long_words:
        return words
    i = rng.choice(long_words)
    w = words[i]
    j = rng.randrange(len(w) - 1)
    return [*words[:i], w[:j] + w[j + 1] + w[j] + w[j + 2 :], *words[i + 1 :]]


# -- measuring ----------------------------------------------------------------------------
def measure(
    kb: KnowledgeBase, queries: list[str], label: str, exact: np.ndarray | None, ids: list[str]
) -> dict[str, Any]:
    """Interleaved timings of floor, search, ask and lexical for every query."""
    embedder = kb.embedder
    collection = kb.collection  # the bare handle, opened once, for the floor
    times: dict[str, list[float]] = {
        k: [] for k in ("encode", "chroma", "floor", "search", "ask", "lexical")
    }
    lexical_detail: list[tuple[float, int, str]] = []
    floor_ids: list[list[str]] = []
    vectors: list[np.ndarray] = []

    def floor(q: str) -> None:
        t0 = time.perf_counter()
        v = embedder.encode_query(q)
        t1 = time.perf_counter()
        result = collection.query(query_embeddings=[v], n_results=10)
        t2 = time.perf_counter()
        times["encode"].append(t1 - t0)
        times["chroma"].append(t2 - t1)
        times["floor"].append(t2 - t0)
        floor_ids.append(result["ids"][0])
        vectors.append(v)

    def search(q: str) -> None:
        t0 = time.perf_counter()
        kb.search(q, k=5)
        times["search"].append(time.perf_counter() - t0)

    def ask(q: str) -> None:
        t0 = time.perf_counter()
        kb.ask(q)
        times["ask"].append(time.perf_counter() - t0)

    def lexical(q: str) -> None:
        t0 = time.perf_counter()
        kb.catalog.lexical_search(q, 40)
        elapsed = time.perf_counter() - t0
        times["lexical"].append(elapsed)
        lexical_detail.append((elapsed, len(query_terms(q)), q))

    ops = [floor, search, ask, lexical]
    for q in queries[:10]:  # warm-up: caches, lazy imports, the stemmer
        for op in ops:
            op(q)
    for key in times:
        times[key].clear()
    lexical_detail.clear()
    floor_ids.clear()
    vectors.clear()
    print(f"{label}: {len(queries)} queries...", file=sys.stderr)
    for i, q in enumerate(queries):
        for op in ops[i % 4 :] + ops[: i % 4]:  # rotate the order to spread any drift
            op(q)

    summary = {key: _common.latency_summary(values) for key, values in times.items()}
    floor_p = summary["floor"]
    out: dict[str, Any] = {
        "chunks": kb.catalog.stats()["chunks"],
        "vectors": collection.count(),
        "queries": len(queries),
        "latency": summary,
        "ratio_search_over_floor": _ratios(summary["search"], floor_p),
        "ratio_ask_over_floor": _ratios(summary["ask"], floor_p),
        "slowest_lexical": [
            {"ms": round(s * 1000, 1), "terms": n, "query": q}
            for s, n, q in sorted(lexical_detail, reverse=True)[:5]
        ],
        "lexical_ms_by_terms": _by_terms(lexical_detail),
        "search_phases_mean_ms": search_phases(kb, queries),
        "hnsw": hnsw_settings(collection),
    }
    if exact is not None:
        out["hnsw_recall_at_10"] = recall_at_10(np.stack(vectors), floor_ids, exact, ids)
    return out


def _ratios(full: dict[str, float], floor: dict[str, float]) -> dict[str, float]:
    return {
        "p50": round(full["p50_ms"] / floor["p50_ms"], 3),
        "p95": round(full["p95_ms"] / floor["p95_ms"], 3),
    }


def _by_terms(detail: list[tuple[float, int, str]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[float]] = {}
    for secs, n, _ in detail:
        groups.setdefault("1-3" if n <= 3 else "4-6" if n <= 6 else "7+", []).append(secs)
    return {k: _common.latency_summary(v) for k, v in sorted(groups.items())}


def search_phases(kb: KnowledgeBase, queries: list[str]) -> dict[str, Any]:
    """Mean ms per search spent in each call the search makes (an instrumented second pass)."""
    timer = _common.PhaseTimer()
    library = kb.library
    embedder, catalog, vectors = library.embedder, kb.catalog, library.vectors
    open_collection = vectors.collection

    class TimedCollection:
        def __init__(self, c: Any) -> None:
            self._c = c

        def count(self) -> int:
            with timer.phase("chroma_count"):
                return self._c.count()

        def query(self, **kwargs: Any) -> Any:
            with timer.phase("chroma_query"):
                return self._c.query(**kwargs)

    def collection(name: str) -> TimedCollection:
        with timer.phase("collection_lookup"):
            return TimedCollection(open_collection(name))

    embedder.encode = timer.wrap("encode", embedder.encode)
    catalog.lexical_search = timer.wrap("lexical", catalog.lexical_search)
    catalog.get_chunks = timer.wrap("get_chunks", catalog.get_chunks)
    catalog.get_meta = timer.wrap("get_meta", catalog.get_meta)
    vectors.collection = collection
    total = 0.0
    try:
        for q in queries:
            t0 = time.perf_counter()
            kb.search(q, k=5)
            total += time.perf_counter() - t0
    finally:
        # Drop the instance attributes: the class methods show through again.
        for obj, name in (
            (embedder, "encode"),
            (catalog, "lexical_search"),
            (catalog, "get_chunks"),
            (catalog, "get_meta"),
            (vectors, "collection"),
        ):
            obj.__dict__.pop(name, None)
    n = len(queries)
    phases = timer.snapshot(total)
    return {
        name: {"mean_ms": round(p["seconds"] * 1000 / n, 3), "share": p["share"]}
        for name, p in phases.items()
    } | {"total_mean_ms": round(total * 1000 / n, 3)}


def hnsw_settings(collection: Any) -> dict[str, Any]:
    try:
        config = collection.configuration_json or {}
        return dict(config.get("hnsw") or {})
    except Exception as exc:  # the configuration API moved between chromadb releases
        return {"error": repr(exc)}


def recall_at_10(
    queries: np.ndarray, found: list[list[str]], exact: np.ndarray, ids: list[str]
) -> float:
    """Share of the exact cosine top 10 that the HNSW query returned."""
    scores = queries @ exact.T
    top = np.argpartition(-scores, 10, axis=1)[:, :10]
    hits = sum(len({ids[j] for j in row} & set(got)) for row, got in zip(top, found, strict=True))
    return round(hits / (10 * len(found)), 4)


def all_vectors(collection: Any) -> tuple[list[str], np.ndarray]:
    ids: list[str] = []
    parts: list[np.ndarray] = []
    total = collection.count()
    for offset in range(0, total, 10000):
        got = collection.get(include=["embeddings"], limit=10000, offset=offset)
        ids += got["ids"]
        parts.append(np.asarray(got["embeddings"], dtype=np.float32))
    return ids, np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)


# -- the corpus knowledge base ------------------------------------------------------------
def open_corpus_kb(library: Library, name: str, corpus: Path) -> KnowledgeBase:
    if library.exists(name):
        return library.open(name)
    print(f"ingesting {corpus} into {library.data_dir} ({name})...", file=sys.stderr)
    kb = library.open(name)
    report = kb.sync([FolderSource(corpus)])
    print(f"  {report.summary()}, {report.chunks_embedded} chunks", file=sys.stderr)
    return kb


# -- the synthetic knowledge base ---------------------------------------------------------
def build_synthetic(
    library: Library, corpus_kb: KnowledgeBase, n_chunks: int, seed: int = 11
) -> tuple[KnowledgeBase, dict[str, Any], np.ndarray | None, list[str]]:
    spec = json.dumps({"chunks": n_chunks, "seed": seed, "swap": WORD_SWAP, "version": 1})
    kb = library.open(SYNTHETIC_KB)
    if kb.catalog.get_meta("bench_synthetic") == spec:
        print("synthetic knowledge base already built; reusing it", file=sys.stderr)
        return kb, {"reused": True}, None, []
    if kb.catalog.stats()["chunks"]:
        raise SystemExit(f"{library.data_dir} holds another synthetic build: use a new dir")

    rng = np.random.default_rng(seed)
    base_ids, base_vectors = all_vectors(corpus_kb.collection)
    row_of = {cid: i for i, cid in enumerate(base_ids)}
    stored = corpus_kb.catalog.get_chunks(base_ids)
    by_doc: dict[str, list[Any]] = {}
    for cid in base_ids:
        chunk = stored.get(cid)
        if chunk is not None:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
    base_docs = [sorted(v, key=lambda c: c.index) for v in by_doc.values()]

    counts = Counter(w for chunks in base_docs for c in chunks for w in _WORD.findall(c.text))
    vocab = np.array(list(counts), dtype=object)
    cdf = np.cumsum(np.array(list(counts.values()), dtype=np.float64))
    cdf /= cdf[-1]
    index_of = {w: i for i, w in enumerate(vocab)}
    encoded = {
        c.chunk_id: np.array([index_of[w] for w in _WORD.findall(c.text)], dtype=np.int64)
        for chunks in base_docs
        for c in chunks
    }

    started = time.perf_counter()
    collection = kb.collection
    all_ids: list[str] = []
    all_vecs: list[np.ndarray] = []
    pending_docs: list[tuple[Document, list[Chunk]]] = []
    pending_vecs: list[np.ndarray] = []
    timing = {"generate": 0.0, "chroma": 0.0, "catalog": 0.0}
    made = doc_no = 0
    max_batch = min(CHROMA_BATCH, library.vectors.client.get_max_batch_size())

    def flush() -> None:
        chunks = [(doc, c) for doc, cs in pending_docs for c in cs]
        vecs = np.concatenate(pending_vecs)
        t0 = time.perf_counter()
        for i in range(0, len(chunks), max_batch):
            part = chunks[i : i + max_batch]
            collection.upsert(
                ids=[c.chunk_id for _, c in part],
                embeddings=vecs[i : i + len(part)],
                metadatas=[chunk_metadata(doc, c) for doc, c in part],
            )
        t1 = time.perf_counter()
        with kb.catalog.transaction() as conn:
            for doc, cs in pending_docs:
                kb.catalog.replace_document(conn, doc, cs)
        timing["chroma"] += t1 - t0
        timing["catalog"] += time.perf_counter() - t1
        pending_docs.clear()
        pending_vecs.clear()

    while made < n_chunks:
        t0 = time.perf_counter()
        template = base_docs[int(rng.integers(len(base_docs)))][: n_chunks - made]
        doc_no += 1
        title = f"{template[0].title} (copy {doc_no})"
        rel = f"synthetic/{doc_no:06d}.md"
        doc_id = f"{SYNTHETIC_SOURCE}::{rel}"
        cosine = rng.uniform(0.85, 0.97)
        sigma = np.sqrt((1 / cosine**2 - 1) / base_vectors.shape[1])
        texts, prefixes, headings = [], [], []
        for c in template:
            words = encoded[c.chunk_id].copy()
            swap = rng.random(len(words)) < WORD_SWAP
            # Drawn by corpus frequency, so common words stay common (the slow FTS case).
            drawn = np.searchsorted(cdf, rng.random(int(swap.sum())))
            words[swap] = np.minimum(drawn, len(vocab) - 1)
            texts.append(_sentences(vocab[words], rng))
            headings.append(tuple(h for h in c.heading.split(HEADING_SEPARATOR) if h))
            prefixes.append(HEADING_SEPARATOR.join([title, *headings[-1]]))
        body = "\n\n".join(texts)
        doc = Document(doc_id=doc_id, title=title, text=body, source=SYNTHETIC_SOURCE, path=rel)
        chunks, offset = [], 0
        for i, (text, prefix, heading) in enumerate(zip(texts, prefixes, headings, strict=True)):
            cid = hashlib.sha256(f"{doc_id}\0{i}".encode()).hexdigest()[:32]
            chunks.append(Chunk(cid, doc_id, i, heading, text, offset, offset + len(text), prefix))
            offset += len(text) + 2
        rows = np.array([row_of[c.chunk_id] for c in template])
        vecs = base_vectors[rows] + rng.normal(0, sigma, (len(rows), base_vectors.shape[1]))
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        pending_docs.append((doc, chunks))
        pending_vecs.append(vecs)
        all_ids += [c.chunk_id for c in chunks]
        all_vecs.append(vecs)
        made += len(chunks)
        timing["generate"] += time.perf_counter() - t0
        if len(pending_docs) >= CATALOG_BATCH_DOCS or made >= n_chunks:
            flush()
            print(f"  {made:,}/{n_chunks:,} chunks", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    kb.catalog.set_meta("bench_synthetic", spec)
    wall = time.perf_counter() - started
    info = {
        "reused": False,
        "documents": doc_no,
        "chunks": made,
        "wall_s": round(wall, 2),
        "generate_s": round(timing["generate"], 2),
        "chroma_upsert_s": round(timing["chroma"], 2),
        "chroma_upserts_per_s": round(made / timing["chroma"], 1),
        "catalog_insert_s": round(timing["catalog"], 2),
        "catalog_chunks_per_s": round(made / timing["catalog"], 1),
        "vector_cosine_to_source": [0.85, 0.97],
        "word_swap_share": WORD_SWAP,
    }
    return kb, info, np.concatenate(all_vecs), all_ids


def _sentences(words: np.ndarray, rng: np.random.Generator) -> str:
    out, i = [], 0
    while i < len(words):
        n = int(rng.integers(6, 18))
        part = " ".join(words[i : i + n])
        out.append(part[:1].upper() + part[1:] + ".")
        i += n
    return " ".join(out)


# -- reporting ----------------------------------------------------------------------------
def print_summary(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(
        f"\nquery bench {m['date']}  cpus={m['cpus']} load(1,5,15)={m['loadavg_1_5_15']}"
        f" -> {results['machine_after']}"
    )
    for key in ("corpus", "synthetic"):
        r = results.get(key)
        if not r:
            continue
        print(f"\n{key}: {r['chunks']:,} chunks, {r['vectors']:,} vectors, {r['queries']} queries")
        lat = r["latency"]
        rows = [
            (name, lat[name]["p50_ms"], lat[name]["p95_ms"], lat[name]["max_ms"])
            for name in ("encode", "chroma", "floor", "search", "ask", "lexical")
        ]
        _common.print_table(rows, ["ms", "p50", "p95", "max"])
        s, a = r["ratio_search_over_floor"], r["ratio_ask_over_floor"]
        print(
            f"search/floor p50 {s['p50']:.2f} p95 {s['p95']:.2f};"
            f"  ask/floor p50 {a['p50']:.2f} p95 {a['p95']:.2f}"
        )
        phases = r["search_phases_mean_ms"]
        print(
            "search phases (mean ms): "
            + ", ".join(
                f"{k} {v['mean_ms']:.2f}" for k, v in phases.items() if k != "total_mean_ms"
            )
            + f"; total {phases['total_mean_ms']:.2f}"
        )
        by_terms = ", ".join(
            f"{k} terms p50 {v['p50_ms']:.1f}/p95 {v['p95_ms']:.1f} (n={v['n']})"
            for k, v in r["lexical_ms_by_terms"].items()
        )
        print(f"lexical by content words: {by_terms}")
        if "hnsw_recall_at_10" in r:
            print(f"HNSW recall@10 vs exact: {r['hnsw_recall_at_10']:.3f}  ({r['hnsw']})")
    if results.get("synthetic_build"):
        print(f"\nsynthetic build: {results['synthetic_build']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="data dir holding the corpus knowledge base")
    parser.add_argument("--kb", default="corpus", help="its name (built when missing)")
    parser.add_argument("--corpus", type=Path, default=_common.DEFAULT_CORPUS)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--synthetic-chunks", type=int, default=100_000, help="0: skip (b)")
    parser.add_argument(
        "--synthetic-dir", type=Path, help="keep the synthetic store here and reuse it next time"
    )
    parser.add_argument("--out", type=Path, default=_common.RESULTS / "query.json")
    args = parser.parse_args(argv)

    machine = _common.machine_note()
    scratch = Path(tempfile.mkdtemp(prefix="greenroom-query-bench-"))
    try:
        embedder = Embedder()
        queries = make_queries(_common.load_questions(), args.queries)
        corpus_library = Library(args.data_dir or scratch / "corpus", embedder)
        corpus_kb = open_corpus_kb(corpus_library, args.kb, args.corpus.resolve())
        ids, exact = all_vectors(corpus_kb.collection)
        results: dict[str, Any] = {
            "machine": machine,
            "args": {
                "data_dir": str(args.data_dir) if args.data_dir else None,
                "kb": args.kb,
                "queries": args.queries,
                "synthetic_chunks": args.synthetic_chunks,
            },
            "corpus": measure(corpus_kb, queries, "corpus", exact, ids),
        }
        if args.synthetic_chunks:
            synthetic_library = Library(args.synthetic_dir or scratch / "synthetic", embedder)
            print(f"building {args.synthetic_chunks:,} synthetic chunks...", file=sys.stderr)
            kb, info, exact, ids = build_synthetic(
                synthetic_library, corpus_kb, args.synthetic_chunks
            )
            if exact is None:
                ids, exact = all_vectors(kb.collection)
            results["synthetic_build"] = info
            results["synthetic"] = measure(kb, queries, "synthetic", exact, ids)
            synthetic_library.close()
        corpus_library.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["machine_after"] = _common.machine_note()["loadavg_1_5_15"]
    print_summary(results)
    path = _common.write_results("query.json", results, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

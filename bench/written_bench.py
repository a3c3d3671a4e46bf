"""The latency the written-answer path adds on our side, against a scripted model that answers
at once (tests/llm_double.py on 127.0.0.1): prompt, HTTP round trip, parsing and checks.

    .venv/bin/python bench/written_bench.py [--rounds 3]

On the sample notes and eval/examples_questions.jsonl: the extractive answer (retrieval and
tiers, the floor) against the written path's extra time, without and with streaming, and the
checks alone (prompt building, parsing, the support and link checks, no HTTP). A real model's
own time comes on top; this measures only what Greenroom adds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, configure_environment, latency_summary, machine_note, print_table
from _common import write_results as save

configure_environment()
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the question set")
    args = parser.parse_args()

    from ingest.connectors.base import Secret
    from ingest.loaders import FolderSource
    from knowledge.base import Library
    from knowledge.embedder import Embedder
    from knowledge.evaluation import load_questions
    from knowledge.written import (
        ModelSettings,
        WrittenAnswerer,
        build_messages,
        decide,
        parse_reply,
        select_passages,
    )
    from tests.llm_double import LLMDouble, grounded_reply

    start_note = machine_note()
    questions = [q.question for q in load_questions(REPO / "eval" / "examples_questions.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp), Embedder())
        kb = library.open("bench")
        kb.sync([FolderSource(REPO / "examples" / "notes")])
        for q in questions[:5]:
            kb.ask(q)  # warm up

        extractive, answers = [], []
        for _ in range(args.rounds):
            for q in questions:
                started = time.perf_counter()
                answers.append(kb.ask(q))
                extractive.append(time.perf_counter() - started)

        checks = []
        for answer in answers:
            started = time.perf_counter()
            passages = select_passages(answer.hits)
            if passages:
                messages = build_messages(answer.question, passages)
                reply = grounded_reply({"messages": messages}).text
                decide(answer, passages, parse_reply(reply), "double-model")
            checks.append(time.perf_counter() - started)

        async def written(stream: bool) -> tuple[list[float], dict[str, int]]:
            async with LLMDouble() as llm:
                writer = WrittenAnswerer(ModelSettings(llm.url, "double-model", Secret("sk-b")))

                async def ignore(text: str) -> None:
                    pass

                seconds, outcomes = [], {}
                try:
                    for answer in answers[:5]:
                        await writer.write(answer, on_text=ignore if stream else None)
                    for answer in answers:
                        started = time.perf_counter()
                        result = await writer.write(answer, on_text=ignore if stream else None)
                        seconds.append(time.perf_counter() - started)
                        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
                finally:
                    await writer.aclose()
                return seconds, outcomes

        plain, plain_outcomes = asyncio.run(written(False))
        streamed, stream_outcomes = asyncio.run(written(True))
        library.close()

    rows = {
        "extractive answer (floor)": latency_summary(extractive),
        "written path, added (no streaming)": latency_summary(plain),
        "written path, added (streaming)": latency_summary(streamed),
        "checks alone (no HTTP)": latency_summary(checks),
    }
    floor = rows["extractive answer (floor)"]["p50_ms"]
    print(f"{len(questions)} questions x {args.rounds} rounds on examples/notes")
    print_table(
        [
            (name, r["p50_ms"], r["p95_ms"], r["mean_ms"], r["p50_ms"] / floor)
            for name, r in rows.items()
        ],
        ["", "p50 ms", "p95 ms", "mean ms", "p50 / floor"],
    )
    print(f"outcomes: {plain_outcomes} (streaming: {stream_outcomes})")
    path = save(
        "written_bench",
        {
            "start": start_note,
            "end": machine_note(),
            "rows": rows,
            "outcomes": {"plain": plain_outcomes, "streaming": stream_outcomes},
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

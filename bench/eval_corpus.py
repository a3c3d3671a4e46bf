"""Retrieval and abstention figures on the corpus, through the `greenroom` command line.

    python bench/eval_corpus.py --data-dir D [--notes ../shared/corpus]
        [--questions eval/corpus_questions.jsonl] [--kb corpus]

Runs `greenroom --data-dir D ingest NOTES --kb KB` when that knowledge base does not exist yet
(a few minutes for the corpus), then `greenroom --data-dir D eval QUESTIONS --kb KB --json`,
prints Recall@1/3/5/10, MRR@10 and the abstention rates, and writes
bench/results/eval_<kb>.json. The same for the sample vault:
    python bench/eval_corpus.py --data-dir D --notes examples/notes
        --questions eval/examples_questions.jsonl --kb examples
"""

from __future__ import annotations

import _common

_common.configure_environment()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def greenroom(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("greenroom") or str(Path(sys.executable).with_name("greenroom"))
    return subprocess.run(
        [exe, *args], cwd=_common.REPO, env=os.environ.copy(), capture_output=True, text=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--notes", type=Path, default=_common.DEFAULT_CORPUS)
    parser.add_argument("--questions", type=Path, default=_common.QUESTION_FILES[0])
    parser.add_argument("--kb", default="corpus")
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    machine = _common.machine_note()

    ingest_seconds = None
    if not (data_dir / "kb" / args.kb / "catalog.sqlite3").exists():
        print(f"ingesting {args.notes} into {data_dir} ({args.kb})...", file=sys.stderr)
        started = time.perf_counter()
        done = greenroom(
            "--data-dir", str(data_dir), "ingest", str(args.notes.resolve()), "--kb", args.kb,
            "--no-progress",
        )  # fmt: skip
        ingest_seconds = round(time.perf_counter() - started, 1)
        sys.stderr.write(done.stdout + done.stderr)
        if done.returncode:
            return done.returncode
    done = greenroom(
        "--data-dir", str(data_dir), "eval", str(args.questions.resolve()), "--kb", args.kb,
        "--json",
    )  # fmt: skip
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        return done.returncode
    result = json.loads(done.stdout)
    figures = {
        key: round(result[key], 4)
        for key in (
            "recall@1", "recall@3", "recall@5", "recall@10", "mrr@10",
            "abstain_unanswerable", "wrong_abstain",
        )
    }  # fmt: skip
    misses = [
        {"id": r["id"], "kind": r["kind"], "question": r["question"], "top": r["top"]}
        for r in result["questions"]
        if r["kind"] != "unanswerable" and not r["rank"]
    ]
    payload = {
        "machine": machine,
        "kb": args.kb,
        "notes": str(args.notes),
        "questions": str(args.questions),
        "n_answerable": result["n_answerable"],
        "n_unanswerable": result["n_unanswerable"],
        "figures": figures,
        "ingest_seconds": ingest_seconds,
        "misses": misses,
        "per_question": result["questions"],
    }
    print(
        f"{args.questions.name} against {args.kb!r}: {result['n_answerable']} answerable,"
        f" {result['n_unanswerable']} unanswerable"
    )
    _common.print_table([(k, v) for k, v in figures.items()], ["figure", "value"])
    for miss in misses:
        print(f"  miss {miss['id']} ({miss['kind']}): {miss['question']}")
    path = _common.write_results(f"eval_{args.kb}.json", payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

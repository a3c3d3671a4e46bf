"""Process B of test_two_processes: runs `greenroom ingest` into a knowledge base another
process serves, staying alive between runs (so its own chroma state can go stale).

Usage: python -m tests.knowledge.two_process_worker DATA_DIR KB NOTES_DIR
Prints "ready" once the model is loaded and the library open, then answers each command read
from stdin with one line:
  ingest   the CLI's own ingest of NOTES_DIR into KB  ->  "ingested <summary>"
  check    what this process's dense search reaches  ->  "check <json>"
  search Q its search for Q  ->  "search <json>": [doc id, found by dense search] of each hit
  quit
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bot.cli_commands import ingest_paths
from knowledge.base import KnowledgeBase, Library
from knowledge.embedder import Embedder


def dense_reach(kb: KnowledgeBase) -> dict[str, list[str]]:
    """Vectors the dense index returns against the chunks the catalog holds."""
    wanted = kb.catalog.chunk_ids()
    vector = kb.embedder.encode_query("the stream")
    found = kb.collection.query(
        query_embeddings=[vector], n_results=len(wanted) + 20, include=["distances"]
    )
    reached = set(found["ids"][0])
    return {"missing": sorted(wanted - reached), "extra": sorted(reached - wanted)}


def main() -> None:
    data_dir, name, notes = sys.argv[1:4]
    library = Library(Path(data_dir), Embedder())

    def say(line: str) -> None:
        os.write(1, f"{line}\n".encode())

    say("ready")
    for command in sys.stdin:
        verb, _, rest = command.strip().partition(" ")
        if verb == "ingest":
            _, report = ingest_paths(library, name, [Path(notes)], progress=False)
            say(f"ingested {report.summary()}")
        elif verb == "check":
            say(f"check {json.dumps(dense_reach(library.open(name)))}")
        elif verb == "search":
            hits = library.open(name).search(rest, k=3)
            say(f"search {json.dumps([[h.chunk.doc_id, h.dense is not None] for h in hits])}")
        elif verb == "quit":
            break
    library.close()


if __name__ == "__main__":
    main()

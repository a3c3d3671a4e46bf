"""Fixtures shared by every test folder: the real embedding model, loaded once per session.

Nothing here is autouse: a test only pays for the model (~8 s) when it asks for `embedder`.
"""

from __future__ import annotations

import os

# Before numpy/torch/chromadb load: never reach the network, and keep BLAS off torch's cores.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_NOTES = REPO_ROOT / "examples" / "notes"
EXAMPLES_QUESTIONS = REPO_ROOT / "eval" / "examples_questions.jsonl"
EXAMPLES_KB = "examples"  # knowledge base name of the shared, read-only examples library
EXAMPLES_SOURCE = "examples"  # source name the example notes are ingested under


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 model (offline), shared by the whole session."""
    from knowledge.embedder import Embedder

    return Embedder()


@pytest.fixture
def library(tmp_path: Path, embedder) -> Iterator:
    """An empty Library in this test's own data directory."""
    from knowledge.base import Library

    lib = Library(tmp_path / "data", embedder)
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def examples_library(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator:
    """A Library whose `examples` knowledge base holds examples/notes. Read-only: do not mutate."""
    from ingest.loaders import FolderSource
    from knowledge.base import Library

    lib = Library(tmp_path_factory.mktemp("examples-data"), embedder)
    report = lib.open(EXAMPLES_KB).sync([FolderSource(EXAMPLES_NOTES, name=EXAMPLES_SOURCE)])
    assert not report.failed, report.failed
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def examples_kb(examples_library):
    """The synced examples knowledge base (read-only)."""
    return examples_library.open(EXAMPLES_KB)


@pytest.fixture
def cli_main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedder, capsys):
    """run(*args) -> (exit code, stdout, stderr) of `greenroom`, in-process with the session model.

    Runs in tmp_path (so no stray .env is read) without the GREENROOM_* variables of the shell.
    """
    from bot import cli_commands
    from bot.cli import main
    from knowledge.base import Library

    opened: list[Library] = []

    def open_library(settings):
        library = Library(settings.data_dir, embedder, chroma_url=settings.chroma_url)
        opened.append(library)
        return library

    monkeypatch.setattr(cli_commands, "open_library", open_library)
    monkeypatch.chdir(tmp_path)
    for var in ("GREENROOM_DATA_DIR", "GREENROOM_MODEL", "GREENROOM_CHROMA_URL", "DISCORD_TOKEN"):
        monkeypatch.delenv(var, raising=False)

    def run(*args: object) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    for library in opened:
        library.close()

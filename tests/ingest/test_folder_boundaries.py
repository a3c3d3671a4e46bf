"""A notes folder is read within its own bounds: no links out of it, no name that aborts a run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.documents import Document, LoadFailure
from ingest.loaders import FolderSource

SECRET = "DISCORD_TOKEN=MTIzNDU2Nzg5.secret-value\n"
NOTE = "# Alerts\n\nRaids of five viewers or more play the big moth animation.\n"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """notes/ with one real note; beside it, outside/ holds a secret nobody should quote."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / ".env").write_text(SECRET, encoding="utf-8")
    (tmp_path / "outside" / "plan.md").write_text("# Plan\n\nPrivate plans.\n", encoding="utf-8")
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "alerts.md").write_text(NOTE, encoding="utf-8")
    return root


def by_path(results) -> dict[str, Document | LoadFailure]:
    return {r.path: r for r in results}


def test_a_link_to_a_file_outside_the_folder_is_refused(notes: Path) -> None:
    (notes / "config.txt").symlink_to(Path("..") / "outside" / ".env")
    (notes / "sub" / "plan.md").symlink_to(notes.parent / "outside" / "plan.md")  # absolute
    (notes / "same-alerts.md").symlink_to("alerts.md")  # a link inside the folder is fine

    results = by_path(FolderSource(notes, name="notes").load())

    for rel in ("config.txt", "sub/plan.md"):
        failure = results[rel]
        assert isinstance(failure, LoadFailure), failure
        assert failure.doc_id == f"notes::{rel}"
        assert "outside the notes folder" in failure.reason
        assert "outside/" not in failure.reason  # where it points is not shown to anyone
    assert isinstance(results["alerts.md"], Document)
    inside = results["same-alerts.md"]
    assert isinstance(inside, Document) and inside.text == results["alerts.md"].text
    assert not any(
        isinstance(r, Document) and ("secret-value" in r.text or "Private plans" in r.text)
        for r in results.values()
    )


def test_a_linked_root_folder_is_still_read(notes: Path, tmp_path: Path) -> None:
    """The root itself may be a link (a vault on another disk): its files are inside it."""
    link = tmp_path / "vault-link"
    link.symlink_to(notes, target_is_directory=True)
    results = by_path(FolderSource(link, name="notes").load())
    assert isinstance(results["alerts.md"], Document)


def _write_undecodable(root: Path) -> str:
    """A file named with Latin-1 bytes (not UTF-8); returns how reports spell its name."""
    name = b"caf\xe9-menu.md"
    with open(os.path.join(os.fsencode(root), name), "wb") as f:
        f.write(b"# Menu\n\nThe cafe menu overlay.\n")
    return "caf\\xe9-menu.md"


def test_a_file_name_that_is_not_utf8_is_a_failure_not_a_crash(notes: Path) -> None:
    shown = _write_undecodable(notes / "sub")
    results = list(FolderSource(notes, name="notes").load())
    failures = [r for r in results if isinstance(r, LoadFailure)]
    assert [f.path for f in failures] == [f"sub/{shown}"]
    assert failures[0].doc_id == f"notes::sub/{shown}"
    assert "not valid UTF-8" in failures[0].reason
    for result in results:  # nothing reported can fail to be stored or printed
        result.doc_id.encode("utf-8")
        (result.path or "").encode("utf-8")
    assert f"notes::sub/{shown}" in FolderSource(notes, name="notes").list_ids()


@pytest.mark.slow
def test_sync_goes_on_past_a_file_name_that_is_not_utf8(notes: Path, library) -> None:
    shown = _write_undecodable(notes)
    (notes / "schedule.md").write_text(
        "# Schedule\n\nStreams run Monday, Wednesday and Friday evenings.\n", encoding="utf-8"
    )
    kb = library.open("fans")

    report = kb.sync([FolderSource(notes)])  # the default source name: the folder's path

    assert report.added == 2
    assert [f.path for f in report.failed] == [shown]
    assert {e.path for e in kb.catalog.documents().values()} == {"alerts.md", "schedule.md"}
    again = kb.sync([FolderSource(notes)])
    assert (again.added, again.unchanged, again.removed) == (0, 2, 0)
    assert kb.search("which days do you stream")[0].chunk.path == "schedule.md"


@pytest.mark.slow
def test_sync_never_indexes_what_a_link_points_at_outside(notes: Path, library) -> None:
    (notes / "config.txt").symlink_to(notes.parent / "outside" / ".env")
    kb = library.open("fans")
    report = kb.sync([FolderSource(notes, name="notes")])
    assert [f.path for f in report.failed] == ["config.txt"]
    assert {e.path for e in kb.catalog.documents().values()} == {"alerts.md"}
    assert all("secret-value" not in hit.chunk.text for hit in kb.search("DISCORD_TOKEN"))

"""Notion "Markdown & CSV" export zips, including hostile ones built in the test."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ingest.connectors.base import Fetched, SourceFailed
from ingest.connectors.notion_export import (
    ExportLimits,
    NotionExportError,
    NotionExportSource,
    load_notion_export,
)
from ingest.documents import Document, LoadFailure

from ._helpers import collect

HOME = "a" * 32
GEAR = "b" * 32
SCHEDULE = "c" * 32
TUESDAY = "d" * 32

PAGES = {
    f"Home {HOME}.md": (
        f"# Home\n\nWelcome! See [Gear](Home%20{HOME}/Gear%20{GEAR}.md) and "
        f"[Schedule](Home%20{HOME}/Schedule%20{SCHEDULE}.csv).\n\n"
        f"![photo](Home%20{HOME}/photo.png)\n\n## Rules\n\nBe kind."
    ),
    f"Home {HOME}/Gear {GEAR}.md": "# Gear\n\n- Shure SM7B\n- Sony a6400",
    f"Home {HOME}/Schedule {SCHEDULE}/Tuesday stream {TUESDAY}.md": (
        "# Tuesday stream\n\nDay: Tuesday\nTime: 8pm\n\nBring snacks."
    ),
}
CSV_ALL = (
    "\ufeffName,Day,Time,Games\n"
    "Tuesday stream,Tuesday,8pm,Factorio\n"
    'Friday stream,Friday,9pm,"Celeste, Hades"\n'
    ",,,\n"
    "Sunday stream,Sunday,,\n"
)


def write_zip(path: Path, members: dict[str, bytes | str], *, prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(prefix + name, data)
    return path


def normal_export() -> dict[str, bytes | str]:
    return {
        **PAGES,
        f"Home {HOME}/Schedule {SCHEDULE}.csv": CSV_ALL.replace("Sunday", "Nope"),
        f"Home {HOME}/Schedule {SCHEDULE}_all.csv": CSV_ALL,
        f"Home {HOME}/photo.png": b"\x89PNG not read",
    }


def by_id(results: list) -> dict[str, Document]:
    return {r.doc_id: r for r in results if isinstance(r, Document)}


def test_pages_and_csv_rows(tmp_path: Path) -> None:
    zip_path = write_zip(tmp_path / "export.zip", normal_export(), prefix="Export-1234/")
    results = load_notion_export(zip_path)

    assert not [r for r in results if isinstance(r, LoadFailure)]
    docs = by_id(results)
    assert sorted(docs) == sorted(
        [
            f"notion-export:{HOME}",
            f"notion-export:{GEAR}",
            f"notion-export:{TUESDAY}",
            f"notion-export:{SCHEDULE}:friday-stream",
            f"notion-export:{SCHEDULE}:sunday-stream",
        ]
    )
    home = docs[f"notion-export:{HOME}"]
    assert home.title == "Home"
    assert home.url == f"https://www.notion.so/{HOME}"
    assert home.path == f"Export-1234/Home {HOME}.md"
    assert f"[Gear](https://www.notion.so/{GEAR})" in home.text
    assert f"[Schedule](https://www.notion.so/{SCHEDULE})" in home.text
    assert "photo" not in home.text and "## Rules" in home.text

    # The Tuesday row has its own page, so the CSV row is not repeated.
    tuesday = docs[f"notion-export:{TUESDAY}"]
    assert tuesday.metadata == {"database": "Schedule"} and "Bring snacks." in tuesday.text
    friday = docs[f"notion-export:{SCHEDULE}:friday-stream"]
    assert friday.title == "Friday stream"
    assert friday.text == (
        "# Friday stream\n\nDatabase: Schedule\nDay: Friday\nTime: 9pm\nGames: Celeste, Hades"
    )
    assert friday.metadata == {"database": "Schedule"}
    # The _all CSV was preferred over the filtered one.
    assert "Day: Sunday" in docs[f"notion-export:{SCHEDULE}:sunday-stream"].text


def test_ids_are_stable_across_exports(tmp_path: Path) -> None:
    first = load_notion_export(write_zip(tmp_path / "a.zip", normal_export(), prefix="Export-1/"))
    second = load_notion_export(write_zip(tmp_path / "b.zip", normal_export(), prefix="Export-2/"))
    assert sorted(by_id(first)) == sorted(by_id(second))


def test_path_traversal_and_absolute_names_are_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    members = {
        **PAGES,
        "../evil.md": "# Evil\n\npwned",
        "/etc/abs.md": "# Abs",
        "..\\windows.md": "# Win",
        "C:/drive.md": "# Drive",
    }
    results = load_notion_export(write_zip(work / "export.zip", members))

    failures = {r.path: r.reason for r in results if isinstance(r, LoadFailure)}
    assert set(failures) == {"../evil.md", "/etc/abs.md", "..\\windows.md", "C:/drive.md"}
    assert "outside the export" in failures["../evil.md"]
    assert "absolute path" in failures["/etc/abs.md"]
    assert len(by_id(results)) == 3  # the good pages still load
    assert not (tmp_path / "evil.md").exists() and sorted(p.name for p in work.iterdir()) == [
        "export.zip"
    ]


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    zeros = b"\0" * 15_000_000  # ~15 KB once deflated: a ratio near 1000:1
    zip_path = write_zip(tmp_path / "bomb.zip", {**PAGES, f"Bomb {'e' * 32}.md": zeros})
    assert zip_path.stat().st_size < 200_000
    with pytest.raises(NotionExportError, match="zip bomb"):
        load_notion_export(zip_path)


def test_limits_on_total_size_member_size_and_entries(tmp_path: Path) -> None:
    zip_path = write_zip(tmp_path / "export.zip", normal_export())
    with pytest.raises(NotionExportError, match="would unpack to"):
        load_notion_export(zip_path, limits=ExportLimits(max_total_bytes=100))
    with pytest.raises(NotionExportError, match="entries"):
        load_notion_export(zip_path, limits=ExportLimits(max_entries=3))
    results = load_notion_export(zip_path, limits=ExportLimits(max_member_bytes=60))
    too_big = [r for r in results if isinstance(r, LoadFailure)]
    assert too_big and all("limit for one page" in r.reason for r in too_big)


def test_nested_part_zip(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in PAGES.items():
            zf.writestr(name, data)
    zip_path = write_zip(tmp_path / "outer.zip", {"Export-1-Part-1.zip": inner.getvalue()})
    assert f"notion-export:{GEAR}" in by_id(load_notion_export(zip_path))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(NotionExportError, match="not a zip archive"):
        load_notion_export(path)


async def test_source_wraps_the_loader(tmp_path: Path, client) -> None:
    good = write_zip(tmp_path / "export.zip", normal_export())
    results = await collect(NotionExportSource(good), client)
    assert len(results) == 5 and all(isinstance(r, Fetched) for r in results)

    bomb = write_zip(tmp_path / "bomb.zip", {"x.md": b"\0" * 5_000_000})
    [failed] = await collect(NotionExportSource(bomb), client)
    assert isinstance(failed, SourceFailed) and "zip bomb" in failed.reason

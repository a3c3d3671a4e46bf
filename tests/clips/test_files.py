"""ClipStore: content addressing, duplicates, atomic writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.clips import ClipStore


def test_same_bytes_are_stored_once_under_their_hash(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "clips")
    first = store.save_bytes(b"frame data", ".mp4")
    sha = hashlib.sha256(b"frame data").hexdigest()
    assert first.sha256 == sha
    assert first.path == tmp_path / "clips" / sha[:2] / f"{sha}.mp4"
    assert first.path.read_bytes() == b"frame data"
    assert not first.duplicate
    again = store.save_bytes(b"frame data", ".webm")
    assert again.duplicate and again.path == first.path  # recognised whatever the extension
    assert store.find(sha) == first.path
    assert store.find("0" * 64) is None


def test_save_file_moves_a_download_into_place(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "clips")
    download = store.incoming_dir / "clip-123.part"
    download.write_bytes(b"video bytes")
    stored = store.save_file(download, ".mp4", move=True)
    assert not download.exists()
    assert stored.path.read_bytes() == b"video bytes"
    copy = tmp_path / "elsewhere.mp4"
    copy.write_bytes(b"video bytes")
    duplicate = store.save_file(copy, ".mp4", sha256=stored.sha256)
    assert duplicate.duplicate and copy.exists()  # not moved: only `move=True` consumes it


def test_copying_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "clips")
    source = tmp_path / "source.webm"
    source.write_bytes(b"x" * 3_000_000)
    stored = store.save_file(source, "webm")
    assert stored.path.suffix == ".webm"
    assert [p.name for p in stored.path.parent.iterdir()] == [stored.path.name]
    assert source.exists()
    assert store.delete(stored.sha256)
    assert store.find(stored.sha256) is None


def test_hashes_and_extensions_cannot_escape_the_store(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "clips")
    with pytest.raises(ValueError, match="sha256"):
        store.path_for("../../etc/passwd", ".mp4")
    sha = "a" * 64
    assert store.path_for(sha, "/../x").name == f"{sha}.bin"
    assert store.path_for(sha.upper(), "MP4").name == f"{sha}.mp4"

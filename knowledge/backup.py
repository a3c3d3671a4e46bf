"""Backing up and restoring a data directory (`greenroom backup DIR`, `greenroom restore DIR`).

A backup is a folder holding a copy of the data directory and, written last, `manifest.json`:
every file with its size, sha256 and mode, the versions that wrote it and the time. A folder
without a complete manifest is an interrupted backup, and restore refuses it.

- Every SQLite database (the catalogs in kb/<name>/catalog.sqlite3, the bot's greenroom.sqlite3
  and any other *.sqlite3) is copied through SQLite's online backup API: a consistent snapshot
  even while the bot writes to it.
- The vector store on disk (chroma/) is copied file by file while holding its process lock
  (chroma.lock, see knowledge/vectors.py), so no process writes to it meanwhile. The catalogs
  are snapshotted after it under the same lock: a sync writes vectors before it commits the
  chunk rows that point at them, so every chunk row in the backup has its vector.
- Everything else (clip files, the Twitch token file, chroma.database) is copied with its mode.
- In server mode (GREENROOM_CHROMA_URL) the vectors live on the server: they are not in the
  backup, and restore does not touch the server.

Restore checks every file against the manifest before it changes anything. The databases are
written through the backup API (so a process that has one open sees the restored content),
the store on disk is swapped in under its lock, and its write count (chroma.writes) is bumped
in place, so a process that had the old store open reopens it at its next call.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from knowledge.errors import KnowledgeError
from knowledge.vectors import ProcessLock, WriteCount

MANIFEST = "manifest.json"
FORMAT = 1
STORE = "chroma"  # the vector store on disk, data_dir/chroma
# Beside the store, never copied: the lock and the write count belong to the data directory.
STORE_FILES = frozenset({"chroma.lock", "chroma.writes"})
_SQLITE_SIDE = ("-wal", "-shm", "-journal")
_CHUNK = 1 << 20

Progress = Callable[[str], None]


class BackupError(KnowledgeError):
    """A backup or restore that cannot go ahead; the message says why."""


@dataclass
class BackupResult:
    dest: Path
    files: int
    bytes: int
    seconds: float
    vectors: str  # "disk", "server" or "none"
    manifest: dict[str, Any]


@dataclass
class RestoreResult:
    data_dir: Path
    files: int
    bytes: int
    removed: int
    seconds: float
    manifest: dict[str, Any]


def _versions() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "greenroom": version("greenroom"),
        "chromadb": version("chromadb"),
        "sqlite": sqlite3.sqlite_version,
        "python": platform.python_version(),
    }


def _is_sqlite_side(path: Path) -> bool:
    return any(path.name.endswith(".sqlite3" + side) for side in _SQLITE_SIDE)


def _walk(root: Path) -> Iterator[Path]:
    """Regular files under root, sorted, as paths relative to root (symlinks are skipped)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _copy_file(src: Path, dst: Path) -> None:
    """Copy bytes and mode; the file is created with its final mode (a 0600 token never shows
    with wider permissions)."""
    mode = src.stat().st_mode & 0o777
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out, src.open("rb") as f:
        shutil.copyfileobj(f, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(dst, mode)  # the umask may have narrowed it


def _snapshot_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a live database through SQLite's online backup API."""
    mode = src.stat().st_mode & 0o777
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(src, timeout=30)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            target.close()
    finally:
        source.close()
    for side in _SQLITE_SIDE:  # a self-contained file: the WAL is folded in above
        Path(str(dst) + side).unlink(missing_ok=True)
    os.chmod(dst, mode)


def _entry(root: Path, rel: Path, kind: str) -> dict[str, Any]:
    path = root / rel
    return {
        "path": PurePosixPath(rel).as_posix(),
        "kind": kind,
        "size": path.stat().st_size,
        "sha256": _sha256(path),
        "mode": f"{path.stat().st_mode & 0o777:04o}",
    }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def backup(
    data_dir: Path,
    dest: Path,
    *,
    chroma_url: str | None = None,
    server_database: str | None = None,
    progress: Progress | None = None,
) -> BackupResult:
    """Copy the data directory into `dest` (missing or empty) and write its manifest last."""
    started = time.perf_counter()
    data_dir, dest = Path(data_dir).resolve(), Path(dest).resolve()
    say = progress or (lambda _message: None)
    if not data_dir.is_dir():
        raise BackupError(f"there is no data directory {data_dir}")
    if _inside(dest, data_dir) or _inside(data_dir, dest):
        raise BackupError(f"the backup folder {dest} must be outside the data directory {data_dir}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} is not empty: back up into a new or empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    server = bool(chroma_url and chroma_url.strip())
    store = data_dir / STORE

    databases: list[Path] = []
    others: list[Path] = []
    for rel in _walk(data_dir):
        top = rel.parts[0]
        if len(rel.parts) == 1 and top in STORE_FILES:
            continue
        if top == STORE and len(rel.parts) > 1:
            continue  # the store is copied as a whole below (or not at all, in server mode)
        if _is_sqlite_side(rel) or rel.name.startswith(".chroma.database."):
            continue
        (databases if rel.suffix == ".sqlite3" else others).append(rel)

    files: list[dict[str, Any]] = []
    for rel in others:  # clips, the Twitch token file, chroma.database, ...
        try:
            _copy_file(data_dir / rel, dest / rel)
        except FileNotFoundError:
            continue  # removed meanwhile (a clip deleted, a temporary file renamed)
        files.append(_entry(dest, rel, "file"))
    say(f"copied {len(files)} files")

    def snapshot_databases() -> None:
        for rel in databases:
            if not (data_dir / rel).exists():
                continue
            _snapshot_sqlite(data_dir / rel, dest / rel)
            files.append(_entry(dest, rel, "sqlite"))
        say(f"copied {len(databases)} databases through SQLite's backup API")

    vectors = "server" if server else ("disk" if store.is_dir() else "none")
    if vectors == "disk":
        # No process writes to the store while the lock is held (knowledge/vectors.py).
        with ProcessLock(data_dir / "chroma.lock"):
            count = 0
            for rel in _walk(store):
                _copy_file(store / rel, dest / STORE / rel)
                files.append(_entry(dest, Path(STORE) / rel, "vectors"))
                count += 1
            say(f"copied the vector store on disk ({count} files) under its lock")
            snapshot_databases()
    else:
        snapshot_databases()

    manifest: dict[str, Any] = {
        "format": FORMAT,
        "complete": True,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        "versions": _versions(),
        "vectors": {"where": vectors},
        "files": sorted(files, key=lambda f: f["path"]),
    }
    if server:
        manifest["vectors"].update(url=chroma_url.strip(), database=server_database)
    draft = dest / f".{MANIFEST}.{uuid.uuid4().hex}"
    with draft.open("w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    for directory in {dest / Path(e["path"]).parent for e in files} | {dest}:
        _fsync_dir(directory)
    os.replace(draft, dest / MANIFEST)  # last: a folder without it is an interrupted backup
    _fsync_dir(dest)
    return BackupResult(
        dest=dest,
        files=len(files),
        bytes=sum(e["size"] for e in files),
        seconds=time.perf_counter() - started,
        vectors=vectors,
        manifest=manifest,
    )


def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest, checked against the files: a BackupError for an interrupted,
    altered or incomplete backup."""
    path = Path(source) / MANIFEST
    if not Path(source).is_dir():
        raise BackupError(f"there is no backup in {source}")
    if not path.exists():
        raise BackupError(
            f"{source} has no {MANIFEST}: an interrupted or incomplete backup, refused"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read ({exc}): refused") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("complete") is not True
        or not isinstance(manifest.get("files"), list)
    ):
        raise BackupError(f"{path} is not a complete Greenroom backup manifest: refused")
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path} has format {manifest.get('format')!r}; this Greenroom reads format {FORMAT}"
        )
    root = Path(source).resolve()
    for entry in manifest["files"]:
        rel = PurePosixPath(str(entry.get("path", "")))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise BackupError(f"{path} lists a path outside the backup: {rel}")
        file = root / rel
        if not file.is_file():
            raise BackupError(f"{source} is missing {rel}, which its manifest lists: refused")
        if file.stat().st_size != entry["size"] or _sha256(file) != entry["sha256"]:
            raise BackupError(f"{rel} in {source} does not match its manifest (altered?): refused")
    return manifest


def _occupied(data_dir: Path) -> bool:
    if not data_dir.exists():
        return False
    return any(p.name not in STORE_FILES for p in data_dir.iterdir())


def restore(
    source: Path, data_dir: Path, *, force: bool = False, progress: Progress | None = None
) -> RestoreResult:
    """Make `data_dir` what the backup in `source` holds. A non-empty data directory is
    refused unless `force`; then what the backup does not hold is removed from it."""
    started = time.perf_counter()
    source, data_dir = Path(source).resolve(), Path(data_dir).resolve()
    say = progress or (lambda _message: None)
    if _inside(source, data_dir) or _inside(data_dir, source):
        raise BackupError(f"the backup {source} must be outside the data directory {data_dir}")
    manifest = read_manifest(source)
    if _occupied(data_dir) and not force:
        raise BackupError(
            f"{data_dir} is not empty: restore into an empty data directory, or pass --force to"
            " replace what it holds (stop the bot first)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    entries = manifest["files"]
    kept = {Path(e["path"]) for e in entries}
    has_store = manifest["vectors"]["where"] == "disk"
    removed = 0
    with ProcessLock(data_dir / "chroma.lock"):
        # The store on disk: copied beside, then swapped in.
        store = data_dir / STORE
        if has_store or store.exists():
            fresh = data_dir / f".{STORE}.restoring.{uuid.uuid4().hex}"
            fresh.mkdir()
            for entry in entries:
                if entry["kind"] == "vectors":
                    rel = Path(entry["path"]).relative_to(STORE)
                    _copy_file(source / entry["path"], fresh / rel)
            old = data_dir / f".{STORE}.old.{uuid.uuid4().hex}"
            if store.exists():
                os.replace(store, old)
            if has_store:
                os.replace(fresh, store)
            else:
                shutil.rmtree(fresh)
            shutil.rmtree(old, ignore_errors=True)
            say("restored the vector store on disk" if has_store else "removed the store on disk")
        for entry in entries:
            rel = Path(entry["path"])
            if entry["kind"] == "sqlite":
                target = data_dir / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                src = sqlite3.connect(f"file:{source / rel}?mode=ro", uri=True)
                try:
                    dst = sqlite3.connect(target, timeout=30)
                    try:
                        src.backup(dst)  # in place: a process that has it open sees the change
                    finally:
                        dst.close()
                finally:
                    src.close()
                os.chmod(target, int(entry["mode"], 8))
            elif entry["kind"] == "file":
                target = data_dir / rel
                draft = target.with_name(f".{target.name}.restoring.{uuid.uuid4().hex}")
                _copy_file(source / rel, draft)
                os.replace(draft, target)
        # What the backup does not hold goes (only with --force can there be any).
        for rel in list(_walk(data_dir)):
            top = rel.parts[0]
            if (len(rel.parts) == 1 and top in STORE_FILES) or top == STORE or rel in kept:
                continue
            if _is_sqlite_side(rel):
                base = Path(str(rel).rsplit("-", 1)[0])
                if base in kept:
                    continue
            (data_dir / rel).unlink(missing_ok=True)
            removed += 1
        for dirpath, _dirnames, _filenames in sorted(os.walk(data_dir), reverse=True):
            path = Path(dirpath)
            if _inside(path, store) or path == data_dir:
                continue  # chroma keeps folders of its own, empty or not
            if not any(path.iterdir()):
                path.rmdir()
        # Any process that had the old store open sees a new count and reopens it.
        writes = WriteCount(data_dir / "chroma.writes")
        try:
            writes.bump()
        finally:
            writes.close()
    return RestoreResult(
        data_dir=data_dir,
        files=len(entries),
        bytes=sum(e["size"] for e in entries),
        removed=removed,
        seconds=time.perf_counter() - started,
        manifest=manifest,
    )

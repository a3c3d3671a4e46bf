"""Content-addressed clip files: the same bytes are stored once, under their sha256.

Layout: `root/ab/abcdef....mp4` (first two hex digits as a fan-out folder). Files appear
atomically (temp file in the same folder, fsync, rename), so a crash never leaves half a clip
under a real name. The methods do blocking file I/O: call them with `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,8}")
_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredClip:
    sha256: str
    path: Path
    duplicate: bool  # the store already held these exact bytes


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ClipStore:
    """Clip files addressed by sha256 under one data directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.incoming_dir = self.root / "incoming"  # downloads land here, then get renamed
        self.incoming_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str, extension: str) -> Path:
        sha256 = _checked_hash(sha256)
        return self.root / sha256[:2] / f"{sha256}{_clean_extension(extension)}"

    def find(self, sha256: str) -> Path | None:
        """The stored file with this hash, whatever its extension, or None."""
        sha256 = _checked_hash(sha256)
        folder = self.root / sha256[:2]
        if not folder.is_dir():
            return None
        return next((p for p in sorted(folder.glob(f"{sha256}.*")) if p.is_file()), None)

    def save_bytes(self, data: bytes, extension: str) -> StoredClip:
        sha256 = hashlib.sha256(data).hexdigest()
        existing = self.find(sha256)
        if existing is not None:
            return StoredClip(sha256, existing, duplicate=True)
        target = self.path_for(sha256, extension)
        self._write_atomically(target, lambda out: out.write(data))
        return StoredClip(sha256, target, duplicate=False)

    def save_file(
        self, source: Path, extension: str, *, sha256: str | None = None, move: bool = False
    ) -> StoredClip:
        """Store a file's bytes; with `move` the source is consumed (renamed when possible).

        Pass `sha256` when it is already known (a download computes it) to skip re-reading.
        """
        source = Path(source)
        sha256 = _checked_hash(sha256) if sha256 else sha256_of_file(source)
        existing = self.find(sha256)
        if existing is not None:
            if move:
                source.unlink(missing_ok=True)
            return StoredClip(sha256, existing, duplicate=True)
        target = self.path_for(sha256, extension)
        target.parent.mkdir(parents=True, exist_ok=True)
        if move:
            with contextlib.suppress(OSError):  # another filesystem: fall back to copying
                os.replace(source, target)
                return StoredClip(sha256, target, duplicate=False)

        def copy(out: BinaryIO) -> None:
            with source.open("rb") as src:
                shutil.copyfileobj(src, out, _COPY_CHUNK)

        self._write_atomically(target, copy)
        if move:
            source.unlink(missing_ok=True)
        return StoredClip(sha256, target, duplicate=False)

    def delete(self, sha256: str) -> bool:
        path = self.find(sha256)
        if path is None:
            return False
        path.unlink(missing_ok=True)
        return True

    @staticmethod
    def _write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise


def _checked_hash(sha256: str) -> str:
    """Hashes become paths, so anything but 64 lowercase hex digits is refused."""
    sha256 = sha256.lower()
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def _clean_extension(extension: str) -> str:
    extension = extension.lower()
    if not extension.startswith("."):
        extension = "." + extension
    return extension if _EXTENSION.fullmatch(extension) else ".bin"

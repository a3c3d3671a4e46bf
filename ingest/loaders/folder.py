"""Walking a folder or an Obsidian vault: include/exclude patterns, one loader per suffix."""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.connectors.html_markdown import html_to_markdown
from ingest.documents import Document, LoadFailure, LoadResult
from ingest.loaders.docx import docx_to_markdown
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import pdf_to_markdown
from ingest.loaders.text import UnreadableFile, decode_text

log = logging.getLogger(__name__)

_MARKDOWN = {".md", ".markdown", ".mdx"}
_TEXT = {".txt", ".text"}
_HTML = {".html", ".htm"}
_SKIP_DIRS = {".obsidian", ".git", ".trash", ".venv", "node_modules", "__pycache__"}
_MB = 1024 * 1024  # the CLI's --max-file-mb counts in these units too
DEFAULT_MAX_FILE_BYTES = 2 * _MB


def supported_suffixes() -> frozenset[str]:
    return frozenset(_MARKDOWN | _TEXT | _HTML | {".pdf", ".docx"})


@dataclass(frozen=True)
class FolderSource:
    """A local folder (or Obsidian vault) of notes; document ids are paths under its root."""

    root: Path
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    name: str = field(default="")

    @property
    def source_name(self) -> str:
        return self.name or str(self.root.resolve())

    def doc_id(self, rel: str) -> str:
        return f"{self.source_name}::{rel}"

    def paths(self) -> Iterator[tuple[Path, str]]:
        """(absolute path, posix path relative to root) of every file that will be loaded."""
        root = self.root.resolve()
        if root.is_file():
            if root.suffix.lower() in supported_suffixes():
                yield root, root.name
            return
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                rel = path.relative_to(root).as_posix()
                if path.suffix.lower() not in supported_suffixes() or filename.startswith("."):
                    continue
                if self.include and not any(fnmatch.fnmatch(rel, p) for p in self.include):
                    continue
                if any(fnmatch.fnmatch(rel, p) for p in self.exclude):
                    continue
                yield path, rel

    def list_ids(self) -> set[str]:
        """Ids of the documents this source holds now (cheap: no file is read)."""
        return {self.doc_id(printable_name(rel)) for _, rel in self.paths()}

    def load(self) -> Iterator[LoadResult]:
        root = self.root.resolve()
        for path, rel in self.paths():
            shown = printable_name(rel)
            if shown != rel:
                # The catalog (and every report) holds text: a name that is not UTF-8 is this
                # file's failure, not the run's.
                yield LoadFailure(
                    self.doc_id(shown),
                    "has a file name that is not valid UTF-8; rename it and ingest again",
                    shown,
                )
                continue
            yield load_file(
                path,
                doc_id=self.doc_id(rel),
                rel=rel,
                source=self.source_name,
                max_bytes=self.max_file_bytes,
                root=root,
            )


def printable_name(name: str) -> str:
    """`name` as text that can be stored and shown: bytes that are not UTF-8 (which os.walk
    hands over as surrogate escapes) are spelled `\\xe9`."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def load_file(
    path: Path,
    *,
    doc_id: str,
    rel: str,
    source: str,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    root: Path | None = None,
) -> LoadResult:
    """Load one file; any problem becomes a LoadFailure with a readable reason.

    With `root` (resolved), a file whose real path is outside it (a symbolic link out of the
    notes folder, to a `.env` say) is refused: links within the folder are followed.
    """
    try:
        real = path.resolve(strict=True)
        if root is not None and not real.is_relative_to(root):
            return LoadFailure(
                doc_id, "is a link to a file outside the notes folder, so it was not read", rel
            )
        data = _read_regular_file(real, max_bytes)
    except _TooLarge as exc:
        return LoadFailure(
            doc_id,
            f"is {exc.size / _MB:.1f} MB, over the {max_bytes / _MB:.1f} MB limit for one file",
            rel,
        )
    except OSError as exc:
        return LoadFailure(doc_id, f"could not be read ({exc.strerror or exc})", rel)
    try:
        fields = _parse(data, path.suffix.lower(), path.stem)
    except UnreadableFile as exc:
        return LoadFailure(doc_id, str(exc), rel)
    except Exception as exc:  # a parser library choking on a damaged file must not stop the run
        log.debug("could not parse %s", rel, exc_info=True)  # reported as a LoadFailure
        kind = path.suffix.lstrip(".").upper()
        detail = f"{type(exc).__name__}: {exc}"[:120]
        return LoadFailure(doc_id, f"is damaged or not a real {kind} file ({detail})", rel)
    if not fields["text"].strip():
        return LoadFailure(doc_id, "has no text to index (empty, or front matter only)", rel)
    return Document(doc_id=doc_id, source=source, path=rel, **fields)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _read_regular_file(real: Path, max_bytes: int) -> bytes:
    """Read the file at a resolved path without following a link swapped in since it was
    resolved, and without blocking on a FIFO or device given a note's name."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    with open(os.open(real, flags), "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        if info.st_size > max_bytes:
            raise _TooLarge(info.st_size)
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise _TooLarge(len(data))
    return data


def _parse(data: bytes, suffix: str, stem: str) -> dict:
    if suffix == ".pdf":
        title, text = pdf_to_markdown(data)
        return {"title": title or stem, "text": text}
    if suffix == ".docx":
        title, text = docx_to_markdown(data)
        return {"title": title or stem, "text": text}
    text = decode_text(data)
    if suffix in _MARKDOWN:
        return load_markdown(text, name=stem, mdx=suffix == ".mdx")
    if suffix in _HTML:
        page = html_to_markdown(text)  # the web connector's reader: one HTML reading for both
        return {"title": page.title or stem, "text": page.markdown + "\n" if page.markdown else ""}
    return {"title": stem.replace("-", " ").replace("_", " "), "text": text}

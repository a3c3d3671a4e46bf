"""Notion's "Markdown & CSV" export zip, read in memory with zip-bomb and path guards.

Nothing is extracted to disk: members are read with size-limited reads (a nested part zip is
spooled to an anonymous temporary file). Names with `..`, absolute paths or symlinks are
refused. Pages become documents with the Notion id from their file name as a stable id.

A database's CSV becomes one document per row, not one table document: a row document keeps
every column name next to its value, so a chunk answers "when is the Tuesday stream?" on its
own, whereas a big table is cut into chunks that lose the header row and overflow the
embedder's 256-token window. Rows that have their own page in the export (Notion writes one per
row, with the properties at the top) are taken from that page instead, to avoid duplicates.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import stat
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import httpx

from ingest.archives import (
    DEFAULT_MAX_RATIO,
    MemberTooLarge,
    UnreadableMember,
    ZipBomb,
    copy_member,
    inflates_too_much,
)
from ingest.connectors._markdown import join_blocks
from ingest.connectors.base import DocumentDefaults, Fetched, FetchResult, SourceFailed
from ingest.connectors.notion_blocks import notion_url
from ingest.documents import Document, LoadFailure

log = logging.getLogger(__name__)

_ID_SUFFIX = re.compile(r"(?:^|\s+)([0-9a-f]{32})$")
_FIRST_HEADING = re.compile(r"^#\s+(.+?)\s*$", re.MULTILINE)
_LOCAL_LINK = re.compile(r"\]\((?!https?:|mailto:)[^)\s]*?(?:%20|\s)?([0-9a-f]{32})\.(?:md|csv)\)")
_LOCAL_IMAGE = re.compile(r"!\[[^\]\n]*\]\((?!https?:)[^)\n]*\)")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ExportLimits:
    """Guards against hostile or runaway archives."""

    max_archive_bytes: int = 2_000_000_000  # the zip file itself (attachments are skipped)
    max_entries: int = 50_000
    max_total_bytes: int = 200_000_000  # Markdown + CSV actually decompressed
    max_member_bytes: int = 20_000_000
    max_ratio: float = DEFAULT_MAX_RATIO  # decompressed / compressed, for any member past 1 MB
    max_nested_zip_bytes: int = 2_000_000_000  # a "Part-1.zip" inside the export
    max_csv_rows: int = 10_000


class NotionExportError(Exception):
    """The archive as a whole was refused; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _MemberProblem(Exception):
    pass


@dataclass
class _Reader:
    limits: ExportLimits
    budget: int  # text bytes we may still decompress
    texts: dict[str, bytes]
    failures: list[LoadFailure]

    def collect(self, zf: zipfile.ZipFile, *, outer: bool) -> None:
        infos = zf.infolist()
        if len(infos) > self.limits.max_entries:
            raise NotionExportError(
                f"The export has {len(infos):,} entries, more than the "
                f"{self.limits.max_entries:,} allowed."
            )
        wanted: list[zipfile.ZipInfo] = []
        for info in infos:
            suffix = PurePosixPath(info.filename).suffix.lower()
            if info.is_dir() or suffix not in (".md", ".csv", ".zip"):
                continue  # images and attachments are never read
            if suffix == ".zip" and not outer:
                self._fail(info.filename, "A zip inside a zip inside the export is not read.")
                continue
            problem = _unsafe_name(info)
            if problem:
                self._fail(info.filename, problem)
                continue
            if inflates_too_much(info.file_size, info.compress_size, self.limits.max_ratio):
                raise NotionExportError(_bomb(info.filename, self.limits))
            wanted.append(info)
        declared = sum(i.file_size for i in wanted if not i.filename.lower().endswith(".zip"))
        if declared > self.budget:
            raise NotionExportError(
                f"The export would unpack to {declared:,} bytes of pages, more than the "
                f"{self.limits.max_total_bytes:,}-byte limit."
            )
        for info in wanted:
            if info.filename.lower().endswith(".zip"):
                self._nested(zf, info)
            elif info.file_size > self.limits.max_member_bytes:
                self._fail(
                    info.filename,
                    f"{info.filename} is {info.file_size:,} bytes, more than the "
                    f"{self.limits.max_member_bytes:,}-byte limit for one page.",
                )
            else:
                sink = io.BytesIO()
                try:
                    self._read(zf, info, sink, self.limits.max_member_bytes, counts=True)
                except _MemberProblem as exc:
                    self._fail(info.filename, str(exc))
                    continue
                if info.filename not in self.texts:
                    self.texts[info.filename] = sink.getvalue()

    def _nested(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        with tempfile.SpooledTemporaryFile(max_size=16_000_000) as spool:
            try:
                self._read(zf, info, spool, self.limits.max_nested_zip_bytes, counts=False)
                spool.seek(0)
                with zipfile.ZipFile(spool) as inner:
                    self.collect(inner, outer=False)
            except _MemberProblem as exc:
                self._fail(info.filename, str(exc))
            except zipfile.BadZipFile:
                self._fail(info.filename, f"{info.filename} is not a readable zip archive.")

    def _read(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, sink: IO[bytes], cap: int, *, counts: bool
    ) -> None:
        """Copy one member into `sink`, stopping at `cap`, the text budget, or a bomb's ratio."""
        limit = min(cap, self.budget) if counts else cap
        try:
            total = copy_member(zf, info, sink, cap=limit, max_ratio=self.limits.max_ratio)
        except ZipBomb as exc:
            raise NotionExportError(_bomb(info.filename, self.limits)) from exc
        except MemberTooLarge as exc:
            if limit < cap:
                raise NotionExportError(
                    "The export unpacks to more than the "
                    f"{self.limits.max_total_bytes:,}-byte limit and was refused."
                ) from exc
            raise _MemberProblem(str(exc)) from exc
        except UnreadableMember as exc:
            raise _MemberProblem(str(exc)) from exc
        if counts:
            self.budget -= total

    def _fail(self, name: str, reason: str) -> None:
        self.failures.append(LoadFailure(f"notion-export:{name}", reason, path=name))


def _bomb(name: str, limits: ExportLimits) -> str:
    return (
        f"{name} unpacks to more than {limits.max_ratio:g} times its packed size: the export "
        "looks like a zip bomb and was refused."
    )


def _unsafe_name(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"Refused {info.filename!r}: an absolute path has no place in an export."
    if ".." in name.split("/"):
        return f"Refused {info.filename!r}: its name points outside the export (..)."
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"Refused {info.filename!r}: a symbolic link."
    return None


def load_notion_export(
    zip_path: str | Path,
    *,
    limits: ExportLimits | None = None,
    defaults: DocumentDefaults | None = None,
) -> list[Document | LoadFailure]:
    """Documents (and per-file failures) from a Notion Markdown & CSV export.

    Raises NotionExportError when the archive as a whole is refused (not a zip, too big, too
    many entries, a zip bomb).
    """
    limits = limits or ExportLimits()
    path = Path(zip_path)
    defaults = defaults or DocumentDefaults(source=f"notion_export:{path.name}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotionExportError(f"The export {path.name} could not be opened.") from exc
    if size > limits.max_archive_bytes:
        raise NotionExportError(
            f"The export is {size:,} bytes, more than the {limits.max_archive_bytes:,} allowed."
        )
    reader = _Reader(limits, limits.max_total_bytes, {}, [])
    try:
        with zipfile.ZipFile(path) as zf:
            reader.collect(zf, outer=True)
    except zipfile.BadZipFile as exc:
        raise NotionExportError(f"{path.name} is not a zip archive.") from exc
    except OSError as exc:
        raise NotionExportError(f"The export {path.name} could not be read.") from exc
    return _documents(reader.texts, reader.failures, defaults, limits)


def _split_name(stem: str) -> tuple[str, str | None]:
    """("Page Title", "32hex id" or None) from a file stem or folder name."""
    match = _ID_SUFFIX.search(stem)
    if match:
        return stem[: match.start()].strip() or "Untitled", match.group(1)
    return stem.strip() or "Untitled", None


def _documents(
    texts: dict[str, bytes],
    failures: list[LoadFailure],
    defaults: DocumentDefaults,
    limits: ExportLimits,
) -> list[Document | LoadFailure]:
    results: list[Document | LoadFailure] = []
    seen: set[str] = set()
    csv_names = _chosen_csvs([n for n in texts if n.lower().endswith(".csv")])
    databases = {
        _csv_folder(n): _split_name(PurePosixPath(_csv_folder(n)).name)[0] for n in csv_names
    }
    page_titles: dict[str, set[str]] = {}  # folder -> titles of the pages in it

    for name in sorted(n for n in texts if n.lower().endswith(".md")):
        try:
            text = texts[name].decode("utf-8-sig")
        except UnicodeDecodeError:
            failures.append(
                LoadFailure(f"notion-export:{name}", f"{name} is not UTF-8 text.", name)
            )
            continue
        file_title, hex_id = _split_name(PurePosixPath(name).stem)
        heading = _FIRST_HEADING.search(text)
        title = heading.group(1).strip() if heading else file_title
        folder = str(PurePosixPath(name).parent)
        page_titles.setdefault(folder, set()).update({title, file_title})
        doc_id = f"notion-export:{hex_id}" if hex_id else f"notion-export:{name}"
        if doc_id in seen:
            continue
        seen.add(doc_id)
        metadata = {"database": databases[folder]} if folder in databases else {}
        results.append(
            _document(defaults, doc_id, title, _tidy_markdown(text), name, hex_id, metadata)
        )

    for name in csv_names:
        folder = _csv_folder(name)
        db_title, db_hex = _split_name(PurePosixPath(folder).name)
        try:
            rows = list(csv.reader(io.StringIO(texts[name].decode("utf-8-sig"))))
        except (UnicodeDecodeError, csv.Error) as exc:
            failures.append(
                LoadFailure(f"notion-export:{name}", f"{name} is not a readable CSV ({exc}).", name)
            )
            continue
        if not rows:
            continue
        header, body = rows[0], rows[1:]
        if len(body) > limits.max_csv_rows:
            log.warning(
                "Notion export: %s has %d rows; read the first %d",
                name,
                len(body),
                limits.max_csv_rows,
            )
            body = body[: limits.max_csv_rows]
        with_pages = page_titles.get(folder, set())
        for n, row in enumerate(body, start=1):
            if not any(cell.strip() for cell in row):
                continue
            title = row[0].strip() if row else ""
            if title and title in with_pages:
                continue  # the row's own page already holds these properties
            doc_id = _row_id(db_hex or folder, title or f"row {n}", seen)
            lines = [f"# {title or f'{db_title} row {n}'}", ""]
            if "Database" not in header:
                lines.append(f"Database: {db_title}")
            lines += [
                f"{k}: {v.strip()}" for k, v in zip(header[1:], row[1:], strict=False) if v.strip()
            ]
            results.append(
                _document(
                    defaults,
                    doc_id,
                    title or f"{db_title} row {n}",
                    "\n".join(lines),
                    name,
                    db_hex,
                    {"database": db_title},
                )
            )
    return [*results, *failures]


def _chosen_csvs(names: list[str]) -> list[str]:
    """One CSV per database: Notion writes `X.csv` and `X_all.csv`; the `_all` one has every row."""
    chosen: dict[str, str] = {}
    for name in sorted(names):
        key = _csv_folder(name)
        if name.lower().endswith("_all.csv") or key not in chosen:
            chosen[key] = name
    return sorted(chosen.values())


def _csv_folder(name: str) -> str:
    """Where Notion puts a database's row pages: the CSV's path without `.csv` / `_all.csv`."""
    lowered = name.lower()
    return name[: -len("_all.csv")] if lowered.endswith("_all.csv") else name[: -len(".csv")]


def _row_id(database_key: str, title: str, seen: set[str]) -> str:
    slug = _SLUG.sub("-", title.lower()).strip("-") or "row"
    doc_id, n = f"notion-export:{database_key}:{slug}", 2
    while doc_id in seen:
        doc_id, n = f"notion-export:{database_key}:{slug}-{n}", n + 1
    seen.add(doc_id)
    return doc_id


def _tidy_markdown(text: str) -> str:
    """Point links between exported pages at notion.so; drop images of attachments."""
    text = _LOCAL_IMAGE.sub("", text)
    text = _LOCAL_LINK.sub(lambda m: f"]({notion_url(m.group(1))})", text)
    return join_blocks([text])


def _document(
    defaults: DocumentDefaults,
    doc_id: str,
    title: str,
    text: str,
    path: str,
    hex_id: str | None,
    metadata: dict[str, str],
) -> Document:
    return Document(
        doc_id=doc_id,
        title=title,
        text=text,
        source=defaults.source,
        path=path,
        url=notion_url(hex_id) if hex_id else None,
        tags=defaults.tags,
        visibility=defaults.visibility,
        metadata=metadata,
    )


class NotionExportSource:
    """An uploaded Notion export zip; reading it is file work, so it runs in a thread."""

    kind = "notion_export"

    def __init__(
        self,
        zip_path: str | Path,
        *,
        limits: ExportLimits | None = None,
        defaults: DocumentDefaults | None = None,
    ) -> None:
        self.zip_path = Path(zip_path)
        self.limits = limits or ExportLimits()
        self.defaults = defaults or DocumentDefaults(source=f"notion_export:{self.zip_path.name}")

    def __repr__(self) -> str:
        return f"NotionExportSource({str(self.zip_path)!r})"

    async def fetch(
        self, client: httpx.AsyncClient, state: dict[str, Any]
    ) -> AsyncIterator[FetchResult]:
        try:
            results = await asyncio.to_thread(
                load_notion_export, self.zip_path, limits=self.limits, defaults=self.defaults
            )
        except NotionExportError as exc:
            yield SourceFailed(exc.reason)
            return
        for result in results:
            yield Fetched(result) if isinstance(result, Document) else result

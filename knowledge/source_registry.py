"""The source registry: what one knowledge base syncs from, kept in its catalog database.

A source is a `SourceSpec` (kind, target, options, schedule) under a key, with the connector's
change markers (`state`) and the result of its last sync. Storing a run is one step under the
knowledge base's sync lock: documents first, then the state and the result, so an interrupted
sync never leaves a marker that says "unchanged" for a document that was not stored.

Folder sources keep the source name `greenroom ingest` always gave them (the folder's path), so
their document ids and vectors stay as they were; remote sources are named by their key, and
their connectors' ids (bare URLs) are namespaced by it so two sources never collide.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ingest.connectors.base import Fetched, FetchResult, SourceFailed, Unchanged
from ingest.connectors.google_docs import parse_google_doc_id
from ingest.connectors.notion import parse_notion_id
from ingest.connectors.spec import SourceSpec, SourceSpecError
from ingest.connectors.web import normalise_url
from ingest.documents import LoadFailure, LoadResult
from ingest.loaders.folder import DEFAULT_MAX_FILE_BYTES, FolderSource, supported_suffixes
from knowledge.catalog import Catalog
from knowledge.errors import KnowledgeError
from knowledge.indexing import Progress, SyncReport


class IndexedStore(Protocol):
    """What the registry needs of its knowledge base (knowledge/base.py's `KnowledgeBase`,
    which imports this module: the registry does not import it back)."""

    name: str
    catalog: Catalog

    def syncing(self) -> AbstractContextManager[None]: ...

    def remove_source(self, source_name: str) -> SyncReport: ...

    def sync_results(
        self,
        source_name: str,
        results: Iterable[LoadResult | FetchResult],
        *,
        complete: bool = True,
        progress: Progress | None = None,
    ) -> SyncReport: ...


OK = "ok"
PARTIAL = "partial"  # listed completely, but some documents could not be read
FAILED = "failed"  # not listed completely (or not at all): nothing was removed
_MAX_FAILURES_KEPT = 10
_FOLDER_OPTIONS = {"include", "exclude", "max_file_mb", "watch"}
_MB = 1024 * 1024
KEY_PREFIX_CHARS = 100  # a key this long or longer may be named by its first characters


@dataclass(frozen=True)
class SourceResult:
    """How a source's last sync went, in a form that is stored and shown as it is."""

    status: str
    message: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failures: tuple[tuple[str, str], ...] = ()  # (document, reason), the first few
    failure_count: int = 0

    @classmethod
    def from_report(cls, report: SyncReport) -> SourceResult:
        failures = tuple((f.path or f.doc_id, f.reason) for f in report.failed)
        counts = {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "failures": failures[:_MAX_FAILURES_KEPT],
            "failure_count": len(failures),
        }
        summary = report.summary().split(";")[0]
        if report.incomplete:
            message = f"{report.incomplete[0]} Nothing was removed."
            if report.added or report.updated:
                message += f" What could be read was stored ({summary})."
            return cls(FAILED, message, **counts)
        status = PARTIAL if failures else OK
        return cls(status, summary, **counts)

    @classmethod
    def failure(cls, reason: str) -> SourceResult:
        return cls(FAILED, f"{reason} Nothing was changed.")

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_json(self) -> str:
        data = {
            "status": self.status,
            "message": self.message,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failures": [list(f) for f in self.failures],
            "failure_count": self.failure_count,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SourceResult:
        data = json.loads(text)
        data["failures"] = tuple(tuple(f) for f in data.get("failures", ()))
        return cls(**data)


@dataclass(frozen=True)
class SourceRecord:
    """One registered source as stored."""

    key: str
    spec: SourceSpec
    state: dict[str, Any] = field(default_factory=dict)
    last_result: SourceResult | None = None
    last_synced_at: float | None = None  # when the last sync (successful or not) finished

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def is_folder(self) -> bool:
        return self.spec.kind == "folder"

    @property
    def source_name(self) -> str:
        """The `Document.source` of everything this source brought in."""
        return self.spec.target if self.is_folder else self.key

    @property
    def watched(self) -> bool:
        """A folder re-synced within seconds of a change (unless `watch=false`)."""
        return self.is_folder and self.spec.options.get("watch", True) is not False

    def due(self, now: float) -> bool:
        """Its schedule says it should sync now."""
        minutes = self.spec.schedule_minutes
        if minutes is None:
            return False
        return self.last_synced_at is None or now - self.last_synced_at >= minutes * 60

    def document_id(self, connector_id: str) -> str:
        return f"{self.key}::{connector_id}"

    def connector_id(self, document_id: str) -> str:
        return document_id.removeprefix(f"{self.key}::")

    def folder(self) -> FolderSource:
        options = self.spec.options
        return FolderSource(
            Path(self.spec.target),
            include=tuple(options.get("include", ())),
            exclude=tuple(options.get("exclude", ())),
            max_file_bytes=int(options.get("max_file_mb", DEFAULT_MAX_FILE_BYTES / _MB) * _MB),
            name=self.spec.target,
        )


def canonical_spec(spec: SourceSpec) -> SourceSpec:
    """The spec with its target in one canonical form, so one source has one key.

    Folders and export files become absolute paths (they must exist); links become the id or
    address the connector reads.
    """
    target = spec.target.strip()
    try:
        if spec.kind in ("folder", "notion_export"):
            path = Path(target).expanduser()
            if not path.exists():
                raise SourceSpecError(f"{target} does not exist.")
            target = str(path.resolve())
            if spec.kind == "folder":
                _check_folder(spec.options, path.resolve())
        elif spec.kind == "google_doc":
            target = parse_google_doc_id(target)
        elif spec.kind in ("notion_page", "notion_database"):
            target = parse_notion_id(target)
        elif spec.kind in ("web_page", "sitemap"):
            target = normalise_url(target)
    except ValueError as exc:  # SourceSpecError is one
        raise SourceSpecError(str(exc)) from None
    return replace(spec, target=target)


def _check_folder(options: Mapping[str, Any], path: Path) -> None:
    if path.is_file() and path.suffix.lower() not in supported_suffixes():
        raise SourceSpecError(f"{path.name} is not a kind of file Greenroom reads.")
    problems = []
    for name, value in options.items():
        if name not in _FOLDER_OPTIONS:
            known = ", ".join(sorted(_FOLDER_OPTIONS))
            problems.append(
                f"A folder source has no option {name!r} (known: {known}); visibility and tags"
                " come from each note's front matter."
            )
        elif name in ("include", "exclude") and not (
            isinstance(value, list) and all(isinstance(p, str) and p for p in value)
        ):
            problems.append(f"Option {name!r} must be a list of glob patterns.")
        elif name == "max_file_mb" and not (
            isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 200
        ):
            problems.append("Option 'max_file_mb' must be a number above 0, at most 200.")
        elif name == "watch" and not isinstance(value, bool):
            problems.append("Option 'watch' must be true or false.")
    if problems:
        raise SourceSpecError(" ".join(problems))


class SourceRegistry:
    """The sources of one knowledge base. Thread-safe; every call is blocking (SQLite)."""

    def __init__(self, kb: IndexedStore) -> None:
        self.kb = kb
        self.catalog = kb.catalog

    # -- reading --------------------------------------------------------------------------
    def list(self) -> list[SourceRecord]:
        """Every registered source, oldest first (folders ingested before the registry existed
        are registered on the way, so `/kb reload` still finds them)."""
        records = self._records()
        if self._adopt_folders(records):
            records = self._records()
        return records

    def get(self, key: str) -> SourceRecord | None:
        rows = self.catalog.source_rows(key)
        return _record(rows[0]) if rows else None

    def find(self, text: str) -> SourceRecord:
        """A source by its key, or by its target when that names one source (or the first
        `KEY_PREFIX_CHARS` characters of its key: Discord menus cut values there)."""
        text = text.strip()
        records = self.list()
        for record in records:
            if record.key == text:
                return record
        matches = [r for r in records if text in (r.spec.target, r.key.partition(":")[2])]
        if not matches and len(text) >= KEY_PREFIX_CHARS:  # a long key, cut to fit a menu
            matches = [r for r in records if r.key.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(r.key for r in records) or "none yet"
        raise KnowledgeError(f"There is no source {text!r} in {self.kb.name!r} (known: {known}).")

    # -- changing -------------------------------------------------------------------------
    def add(self, spec: SourceSpec, *, keep_schedule: bool = False) -> SourceRecord:
        """Register a source (validated, target made canonical), or update a registered one's
        options and schedule (`keep_schedule`: its schedule and `watch` stay as they were).
        Nothing is synced here."""
        spec = canonical_spec(spec)
        old = self.get(spec.key) if keep_schedule else None
        if old is not None:
            options = dict(spec.options)
            if "watch" in old.spec.options:
                options.setdefault("watch", old.spec.options["watch"])
            spec = replace(spec, options=options, schedule_minutes=old.spec.schedule_minutes)
        self.catalog.put_source(spec.key, spec.to_json())
        record = self.get(spec.key)
        assert record is not None
        return record

    def remove(self, key: str) -> SyncReport:
        """Unregister a source and remove every document it brought in."""
        with self.kb.syncing():  # a sync of this source must not store after its removal
            record = self.get(key)
            if record is None:
                raise KnowledgeError(f"There is no source {key!r} in {self.kb.name!r}.")
            report = self.kb.remove_source(record.source_name)
            self.catalog.delete_source(key)
            return report

    def store(
        self,
        key: str,
        results: Iterable[LoadResult | FetchResult],
        *,
        complete: bool,
        state: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> tuple[SyncReport, SourceResult]:
        """Index one run's results, then record its connector state and result.

        `state` is the connector's state after the run (None for folders); it is written only
        after the documents are stored.
        """
        with self.kb.syncing():
            record = self.get(key)
            if record is None:
                raise KnowledgeError(f"The source {key!r} was removed; nothing was stored.")
            if not record.is_folder:
                results = self._namespaced(record, results)
            report = self.kb.sync_results(
                record.source_name, results, complete=complete, progress=progress
            )
            if state is not None:
                for doc_id in report.refetch:
                    state.pop(record.connector_id(doc_id), None)
            result = SourceResult.from_report(report)
            state_json = json.dumps(state, sort_keys=True) if state is not None else None
            self.catalog.save_source_run(key, result.to_json(), time.time(), state_json)
            return report, result

    def record_failure(self, key: str, reason: str) -> SourceResult:
        """A sync that failed before anything could be stored: only the result is recorded."""
        result = SourceResult.failure(reason)
        self.catalog.save_source_run(key, result.to_json(), time.time())
        return result

    # -- helpers --------------------------------------------------------------------------
    def _records(self) -> list[SourceRecord]:
        return [_record(row) for row in self.catalog.source_rows()]

    def _adopt_folders(self, records: list[SourceRecord]) -> bool:
        names = {r.source_name for r in records}
        adopted = False
        for name, _count in self.catalog.sources():
            path = Path(name)
            if name in names or not path.is_absolute() or not path.exists():
                continue
            try:
                self.add(SourceSpec("folder", name))
            except SourceSpecError:
                continue
            adopted = True
        return adopted

    @staticmethod
    def _namespaced(
        record: SourceRecord, results: Iterable[LoadResult | FetchResult]
    ) -> Iterator[LoadResult | FetchResult]:
        for result in results:
            if isinstance(result, Fetched):
                doc = result.document
                yield replace(doc, doc_id=record.document_id(doc.doc_id))
            elif isinstance(result, Unchanged):
                yield Unchanged(record.document_id(result.doc_id))
            elif isinstance(result, LoadFailure):  # shown by the connector's own id
                path = result.path or result.doc_id
                yield replace(result, doc_id=record.document_id(result.doc_id), path=path)
            elif isinstance(result, SourceFailed):
                yield result
            else:  # a plain Document, from a source that loads rather than fetches
                yield replace(result, doc_id=record.document_id(result.doc_id))


def _record(row: Mapping[str, Any]) -> SourceRecord:
    last = row["last_result_json"]
    return SourceRecord(
        key=row["key"],
        spec=SourceSpec.from_json(row["spec_json"]),
        state=json.loads(row["state_json"] or "{}"),
        last_result=SourceResult.from_json(last) if last else None,
        last_synced_at=row["last_synced_at"],
    )

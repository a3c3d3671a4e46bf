"""The sync plan: which documents are new, changed, unchanged, deleted or failed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ingest.connectors.base import Fetched, FetchResult, SourceFailed, Unchanged
from ingest.documents import Document, LoadFailure, LoadResult


@dataclass
class SyncPlan:
    new: list[Document] = field(default_factory=list)
    changed: list[Document] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    # The source said "unchanged" for ids the index does not hold (their change markers outlived
    # the documents): nothing can be kept for them, and their markers must go so the next run
    # fetches them again.
    refetch: list[str] = field(default_factory=list)
    # Why the source could not be listed completely; while set, nothing is deleted.
    incomplete: str | None = None

    @property
    def to_index(self) -> list[Document]:
        return self.new + self.changed


def plan_sync(
    known: Mapping[str, str],
    results: Iterable[LoadResult | FetchResult],
    *,
    complete: bool = True,
) -> SyncPlan:
    """Compare one source's results with its manifest (`doc_id -> content hash`).

    Results are loaded documents and failures (folders) or a connector's fetch results. A
    document that failed to load is not deleted: its last good version stays indexed, so one
    broken save of a note never removes what fans could already ask about. Deletions are only
    planned when the source listed everything it holds: `complete` and no `SourceFailed`.
    """
    plan = SyncPlan()
    seen: set[str] = set()
    for result in results:
        if isinstance(result, SourceFailed):
            plan.incomplete = result.reason
            continue
        if isinstance(result, Fetched):
            result = result.document
        seen.add(result.doc_id)
        if isinstance(result, LoadFailure):
            plan.failed.append(result)
        elif isinstance(result, Unchanged):
            if result.doc_id in known:
                plan.unchanged.append(result.doc_id)
            else:
                plan.refetch.append(result.doc_id)
        elif result.doc_id not in known:
            plan.new.append(result)
        elif known[result.doc_id] != result.content_hash:
            plan.changed.append(result)
        else:
            plan.unchanged.append(result.doc_id)
    if not complete and plan.incomplete is None:
        plan.incomplete = "The source was not read to the end."
    if plan.incomplete is None:
        plan.deleted = sorted(set(known) - seen)
    return plan

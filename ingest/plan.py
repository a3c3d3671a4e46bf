"""The sync plan: which documents are new, changed, unchanged, deleted or failed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ingest.documents import Document, LoadFailure, LoadResult


@dataclass
class SyncPlan:
    new: list[Document] = field(default_factory=list)
    changed: list[Document] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)

    @property
    def to_index(self) -> list[Document]:
        return self.new + self.changed


def plan_sync(known: Mapping[str, str], results: Iterable[LoadResult]) -> SyncPlan:
    """Compare loaded documents with the manifest (`doc_id -> content hash`) of one source.

    A document that failed to load is not deleted: its last good version stays indexed, so one
    broken save of a note never removes what fans could already ask about.
    """
    plan = SyncPlan()
    seen: set[str] = set()
    for result in results:
        seen.add(result.doc_id)
        if isinstance(result, LoadFailure):
            plan.failed.append(result)
        elif result.doc_id not in known:
            plan.new.append(result)
        elif known[result.doc_id] != result.content_hash:
            plan.changed.append(result)
        else:
            plan.unchanged.append(result.doc_id)
    plan.deleted = sorted(set(known) - seen)
    return plan

"""The run tally that decides whether deletions may be applied, and the Secret wrapper."""

from __future__ import annotations

import copy
import pickle
from collections.abc import AsyncIterator

import pytest

from ingest.connectors.base import (
    Fetched,
    FetchResult,
    Secret,
    SourceFailed,
    SourceRun,
    Unchanged,
)
from ingest.documents import Document, LoadFailure


async def results(*items: FetchResult) -> AsyncIterator[FetchResult]:
    for item in items:
        yield item


def doc(doc_id: str) -> Fetched:
    return Fetched(Document(doc_id=doc_id, title=doc_id, text="text"))


async def test_a_complete_run_reports_deleted_ids() -> None:
    run = SourceRun()
    batches = [
        b
        async for b in run.batches(
            results(doc("a"), Unchanged("b"), LoadFailure("c", "broken"), doc("d")), size=3
        )
    ]
    assert [len(b) for b in batches] == [3, 1]
    assert run.complete
    assert run.listed_ids == {"a", "b", "c", "d"}
    # "c" failed to read but still exists at the source: it is not deleted.
    assert run.deleted_ids(["a", "b", "c", "x", "y"]) == {"x", "y"}


async def test_a_failed_source_deletes_nothing() -> None:
    run = SourceRun()
    async for _ in run.batches(results(doc("a"), SourceFailed("token expired"))):
        pass
    assert run.exhausted and not run.complete
    assert run.failed == SourceFailed("token expired")
    assert run.deleted_ids(["a", "x"]) == frozenset()


async def test_an_interrupted_run_deletes_nothing() -> None:
    run = SourceRun()
    async for _ in run.batches(results(doc("a"), doc("b")), size=1):
        break
    assert not run.complete and run.deleted_ids(["x"]) == frozenset()


def test_secret_never_shows_itself() -> None:
    secret = Secret("  ntn_super_secret  ")
    assert secret.reveal() == "ntn_super_secret"
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert "super_secret" not in shown
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert copy.deepcopy({"token": secret})["token"] == secret
    with pytest.raises(ValueError):
        Secret("   ")

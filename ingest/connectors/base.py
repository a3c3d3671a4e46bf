"""What every remote connector shares: the result types, the source protocol and a run tally.

A source's `fetch` yields one result per document it holds, in source order:

- `Fetched(document)`: new or changed content, to be chunked and embedded;
- `Unchanged(doc_id)`: the source says the document is as it was at the last fetch (a 304, or
  an unchanged Notion `last_edited_time`), so the caller keeps what it has stored;
- `LoadFailure(doc_id, reason)`: the document exists at the source but could not be read this time
  (the caller keeps the old version and shows the reason);
- `SourceFailed(reason)`: always last. The source could not be listed completely (token expired,
  404 on the root, timeout, a sub-sitemap that failed ...). Results yielded before it are valid,
  but the caller must NOT treat missing ids as deleted.

A run that ends without `SourceFailed` listed every id the source holds, so an id that was stored
before and is now missing was deleted at the source. `SourceRun` keeps that bookkeeping.

`state` is a JSON-serialisable dict owned by the caller, one per source, mapping doc_id -> that
document's change markers (ETag, Last-Modified, Notion last_edited_time). Sources read and update
it in place. Persist it only after the run's documents are stored (like the manifest), otherwise
an interrupted sync could answer `Unchanged` for a document that never reached the index;
dropping an entry forces a full refetch of that document.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from ingest.connectors.outbound import PrivateAddressRefused
from ingest.documents import PUBLIC, Document, LoadFailure

log = logging.getLogger(__name__)

USER_AGENT = "GreenroomBot/0.1"
ROBOTS_AGENT = "GreenroomBot"  # the product token robots.txt rules are matched against


class Secret:
    """A token that never shows itself in reprs, f-strings or log lines; `reveal()` reads it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("A token must be a non-empty string.")
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("A Secret is not picklable; pass the token in again.")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    @classmethod
    def wrap(cls, token: str | Secret | None) -> Secret | None:
        if token is None or isinstance(token, Secret):
            return token
        return cls(token)


REDACTED = "[redacted]"
# Credentials whoever echoes them may not know are ours: Authorization header values, and the
# shapes of Notion and Google tokens.
_CREDENTIALS = re.compile(
    r"(?P<label>\bBearer\s+|\bAuthorization[\"']?\s*[:=]\s*[\"']?(?:Basic\s+|Bearer\s+)?)"
    r"(?!(?:Basic|Bearer)\b)[^\s\"'<>,;]{6,}"
    r"|\b(?:secret|ntn)_[A-Za-z0-9_]{20,}"
    r"|\bya29\.[A-Za-z0-9._-]{10,}",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[Secret | None] = ()) -> str:
    """`text` fit to store or log: each secret (as sent, URL-quoted or JSON-escaped) and any
    Authorization value or token-shaped word replaced by `[redacted]`. For error text that
    came from a remote server, which may echo what it was sent."""
    forms = {
        form
        for secret in secrets
        if secret is not None
        for value in (secret.reveal(),)
        for form in (value, quote(value, safe=""), json.dumps(value)[1:-1])
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return _CREDENTIALS.sub(lambda m: (m["label"] or "") + REDACTED, text)


@dataclass(frozen=True)
class Fetched:
    """A document that is new or changed at the source."""

    document: Document

    @property
    def doc_id(self) -> str:
        return self.document.doc_id


@dataclass(frozen=True)
class Unchanged:
    """A document the source reports unchanged since the last fetch (no body was read)."""

    doc_id: str


@dataclass(frozen=True)
class SourceFailed:
    """Terminal: the source could not be listed completely, so nothing may be deleted."""

    reason: str


FetchResult = Fetched | Unchanged | LoadFailure | SourceFailed


@runtime_checkable
class RemoteSource(Protocol):
    """A source of documents reached over the network (or an uploaded archive)."""

    kind: str

    def fetch(self, client: httpx.AsyncClient, state: dict[str, Any]) -> AsyncIterator[FetchResult]:
        """Yield one result per document the source holds, then `SourceFailed` if incomplete."""
        ...


@dataclass
class SourceRun:
    """Tally of one fetch run: which ids the source listed, and whether deletions may be applied.

    Feed it every result (`record`, or iterate through `batches`); `complete` is True only once
    the results were exhausted without a `SourceFailed`, so an exception or an early `break`
    never leads to deletions.
    """

    fetched_ids: list[str] = field(default_factory=list)
    unchanged_ids: list[str] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    failed: SourceFailed | None = None
    exhausted: bool = False

    def record(self, result: FetchResult) -> None:
        match result:
            case Fetched():
                self.fetched_ids.append(result.doc_id)
            case Unchanged():
                self.unchanged_ids.append(result.doc_id)
            case LoadFailure():
                self.failures.append(result)
            case SourceFailed():
                self.failed = result
            case _:
                raise TypeError(f"Not a fetch result: {type(result).__name__}")

    async def batches(
        self, results: AsyncIterator[FetchResult], size: int = 32
    ) -> AsyncIterator[list[FetchResult]]:
        """Pass results through in lists of up to `size`, recording each one."""
        if size < 1:
            raise ValueError("A batch size must be at least 1.")
        batch: list[FetchResult] = []
        async for result in results:
            self.record(result)
            batch.append(result)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
        self.exhausted = True

    @property
    def complete(self) -> bool:
        return self.exhausted and self.failed is None

    @property
    def listed_ids(self) -> frozenset[str]:
        """Every id the source holds this run; a failed document still exists at the source."""
        return frozenset(
            [*self.fetched_ids, *self.unchanged_ids, *(f.doc_id for f in self.failures)]
        )

    def deleted_ids(self, previous_ids: Iterable[str]) -> frozenset[str]:
        """Ids stored before that the source no longer lists; empty unless the run is complete."""
        if not self.complete:
            return frozenset()
        return frozenset(previous_ids) - self.listed_ids


@dataclass(frozen=True)
class DocumentDefaults:
    """What a source stamps on every document it yields (from the spec's common options)."""

    source: str = ""
    visibility: str = PUBLIC
    tags: tuple[str, ...] = ()


class ResponseTooLarge(Exception):
    """A response body went past the connector's size limit."""


async def read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    """Read a streamed response body, refusing it once it passes `max_bytes`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"{int(declared):,} bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(f"more than {max_bytes:,} bytes")
    return bytes(body)


def describe_http_error(exc: httpx.HTTPError) -> str:
    """A readable sentence for a transport error (never includes request headers)."""
    if isinstance(exc, httpx.TimeoutException):
        return "The request timed out."
    if isinstance(exc, httpx.TooManyRedirects):
        return "The address redirected too many times."
    if isinstance(exc, PrivateAddressRefused):
        return f"{exc.host} is not a public address, so the bot does not fetch from it."
    if isinstance(exc, httpx.ConnectError):
        return "Could not connect to the server."
    return f"The request failed ({type(exc).__name__})."

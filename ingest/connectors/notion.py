"""Notion pages and databases through the Notion API, rendered to Markdown.

A page source walks a page and (optionally) its child pages and inline databases, each its own
document; a database source turns every row page into a document whose properties head the text.
State maps a page's doc_id to `{"edited": last_edited_time, "checked": when we read it,
"children": [[kind, id], ...]}`: a page whose `last_edited_time` has not moved is `Unchanged`
and its blocks are not read again. Notion rounds `last_edited_time` to the minute, so the marker
is trusted only when we read the page at least two minutes after that time.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ingest.connectors._markdown import join_blocks
from ingest.connectors.base import (
    USER_AGENT,
    DocumentDefaults,
    Fetched,
    FetchResult,
    Secret,
    SourceFailed,
    Unchanged,
    describe_http_error,
)
from ingest.connectors.notion_blocks import (
    blocks_to_markdown,
    notion_url,
    page_title,
    plain_text,
    properties_header,
)
from ingest.documents import Document, LoadFailure

log = logging.getLogger(__name__)

NOTION_API_URL = "https://api.notion.com"
# 2022-06-28 still serves POST /v1/databases/{id}/query (2025-09-03 moved it to data sources).
NOTION_VERSION = "2022-06-28"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_MAX_PAGES = 500
DEFAULT_MAX_BLOCKS = 5_000
_MAX_RETRY_AFTER = 120.0  # seconds; a longer wait fails the run instead of stalling it
_MAX_BLOCK_DEPTH = 8
_MAX_RESULT_PAGES = 1_000  # pagination guard
_MARKER_SETTLE = timedelta(minutes=2)

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_ID_AT_END = re.compile(r"(?:^|[-_ ])([0-9a-fA-F]{32})$")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- ids -----------------------------------------------------------------------------------


def _dashed(hex32: str) -> str:
    h = hex32.lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_notion_id(link: str) -> str:
    """The dashed id of a Notion page or database, from its link (notion.so / notion.site) or id."""
    text = link.strip()
    if _UUID.fullmatch(text):
        return text.lower()
    if _HEX32.fullmatch(text):
        return _dashed(text)
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (
        host in ("notion.so", "www.notion.so") or host.endswith(".notion.site")
    ):
        raise ValueError(f"{text!r} is neither a Notion link nor a Notion id.")
    peek = parse_qs(parts.query).get("p", [])  # a page opened as a peek over a database
    if peek and _HEX32.fullmatch(peek[0]):
        return _dashed(peek[0])
    for segment in reversed([s for s in unquote(parts.path).split("/") if s]):
        if _UUID.fullmatch(segment):
            return segment.lower()
        match = _ID_AT_END.search(segment)
        if match:
            return _dashed(match.group(1))
    raise ValueError(f"No Notion page id found in {text!r}.")


# --- the API client --------------------------------------------------------------------------


class NotionError(Exception):
    """A readable failure from the Notion API; `fatal` ones (bad token) stop the whole run."""

    def __init__(self, reason: str, *, status: int | None = None, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.fatal = fatal


class NotionAPI:
    """JSON calls with the integration token; tenacity retries 429 (after Retry-After), 5xx and
    network errors (exponential backoff), up to `max_retries` times."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        token: Secret,
        *,
        base_url: str = NOTION_API_URL,
        notion_version: str = NOTION_VERSION,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float = DEFAULT_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._version = notion_version
        self._max_retries = max_retries
        self._timeout = timeout
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"NotionAPI({self._base_url!r}, version={self._version!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self._token.reveal()}",
            "Notion-Version": self._version,
            "User-Agent": USER_AGENT,
        }
        url = f"{self._base_url}{path}"
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=_wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(method, url, params, json, headers)
        except _Retry as exc:  # the retries ran out
            raise exc.exhausted(self._max_retries) from exc.__cause__
        raise AssertionError("unreachable: tenacity either returns, retries or raises")

    async def _attempt(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> dict[str, Any]:
        """One call; `_Retry` when it may be tried again, NotionError when it may not."""
        try:
            resp = await self._client.request(
                method, url, params=params, json=json, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise _Retry(None, None, describe_http_error(exc)) from exc
        status = resp.status_code
        if status == 429 or status >= 500:
            delay = _retry_after(resp) if status == 429 else None
            if delay is not None and delay > _MAX_RETRY_AFTER:
                raise NotionError(
                    f"Notion asked to wait {delay:g} seconds (rate limited); try again later.",
                    status=status,
                )
            raise _Retry(status, delay)
        if status >= 400:
            raise _status_error(resp)
        try:
            data = resp.json()
        except ValueError as exc:
            raise NotionError("Notion sent a malformed answer (not JSON).") from exc
        if not isinstance(data, dict):
            raise NotionError("Notion sent a malformed answer (not a JSON object).")
        return data

    async def paginate(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every result across pages, following `has_more` / `next_cursor`."""
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_RESULT_PAGES):
            if method == "GET":
                params: dict[str, Any] = {"page_size": 100}
                if cursor:
                    params["start_cursor"] = cursor
                data = await self.request("GET", path, params=params)
            else:
                payload = {**(body or {}), "page_size": 100}
                if cursor:
                    payload["start_cursor"] = cursor
                data = await self.request(method, path, json=payload)
            results = data.get("results")
            if not isinstance(results, list):
                raise NotionError("Notion sent a malformed answer (no result list).")
            for item in results:
                if isinstance(item, dict):
                    yield item
            if not data.get("has_more"):
                return
            cursor = data.get("next_cursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                raise NotionError(
                    "Notion's pagination did not advance (a repeated or empty cursor)."
                )
            seen.add(cursor)
        raise NotionError(f"Notion kept paginating past {_MAX_RESULT_PAGES} pages of results.")


class _Retry(Exception):
    """A call worth trying again: a 429 or 5xx `status` (None: Notion was not reached), with
    the wait Notion asked for in `retry_after`, if any."""

    def __init__(self, status: int | None, retry_after: float | None, reason: str = "") -> None:
        super().__init__(reason or f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.reason = reason

    def exhausted(self, retries: int) -> NotionError:
        if self.status is None:
            return NotionError(f"Could not reach Notion: {self.reason}")
        return NotionError(_retry_exhausted(self.status, retries), status=self.status)


_backoff = wait_exponential(multiplier=1, exp_base=2, max=30)  # 1, 2, 4 ... 30 s


def _wait(state: RetryCallState) -> float:
    """Notion's Retry-After when it sent one, otherwise exponential backoff."""
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    if isinstance(error, _Retry) and error.retry_after is not None:
        return error.retry_after
    return _backoff(state)


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - _utcnow()).total_seconds())


def _retry_exhausted(status: int, retries: int) -> str:
    if status == 429:
        return (
            f"Notion kept rate limiting the requests (HTTP 429) after {retries} retries; "
            "try again later."
        )
    return f"Notion had a server error (HTTP {status}) after {retries} retries; try again later."


def _status_error(resp: httpx.Response) -> NotionError:
    status = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = {}
    code = body.get("code", "") if isinstance(body, dict) else ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    if status == 401:
        return NotionError(
            "The Notion token was rejected (HTTP 401): it has been revoked or has expired; "
            "create a new integration token.",
            status=status,
            fatal=True,
        )
    if status == 403:
        return NotionError(
            "The Notion integration may not read this (HTTP 403): give it the "
            "'Read content' capability.",
            status=status,
        )
    if status == 404:
        return NotionError(
            "Notion found nothing at this id (HTTP 404): check the link, and connect the "
            "integration to the page (••• menu > Connections).",
            status=status,
        )
    detail = f": {message}" if message else "."
    return NotionError(f"Notion refused the request (HTTP {status} {code}){detail}", status=status)


# --- walking pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _PageTask:
    page_id: str
    page: dict[str, Any] | None = None  # known already when it came from a database query
    database: str | None = None  # the database title, for rows
    root: bool = False


@dataclass(frozen=True)
class _DatabaseTask:
    database_id: str
    root: bool = False


class _Abort(Exception):
    """The source as a whole failed (root unreadable, token rejected)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NotionWalk:
    def __init__(
        self,
        api: NotionAPI,
        state: dict[str, Any],
        *,
        defaults: DocumentDefaults,
        follow_child_pages: bool,
        max_pages: int,
        max_blocks: int,
        clock: Clock,
    ) -> None:
        self.api = api
        self.state = state
        self.defaults = defaults
        self.follow = follow_child_pages
        self.max_pages = max_pages
        self.max_blocks = max_blocks
        self.clock = clock
        self.listed: set[str] = set()
        self.problems: list[str] = []

    async def run(self, first: _PageTask | _DatabaseTask) -> AsyncIterator[FetchResult]:
        queue: deque[_PageTask | _DatabaseTask] = deque([first])
        visited: set[str] = set()
        while queue:
            task = queue.popleft()
            key = task.page_id if isinstance(task, _PageTask) else task.database_id
            if key in visited:
                continue
            visited.add(key)
            if isinstance(task, _DatabaseTask):
                rows, failure = await self._database_rows(task)
                if failure:
                    yield failure
                queue.extend(rows)
                continue
            if len(self.listed) >= self.max_pages:
                log.warning("Notion: stopped after %d pages (max_pages)", self.max_pages)
                return
            result, children = await self._page(task)
            if result is not None:
                self.listed.add(result.doc_id)
                yield result
            if self.follow:
                queue.extend(children)

    async def _database_rows(
        self, task: _DatabaseTask
    ) -> tuple[list[_PageTask], LoadFailure | None]:
        db_id = task.database_id
        try:
            database = await self.api.request("GET", f"/v1/databases/{db_id}")
            title = plain_text(database.get("title")).strip() or "Untitled database"
            rows = [
                _PageTask(row["id"], page=row, database=title)
                async for row in self.api.paginate("POST", f"/v1/databases/{db_id}/query")
                if isinstance(row.get("id"), str) and not row.get("archived")
            ]
        except NotionError as exc:
            if task.root or exc.fatal:
                raise _Abort(exc.reason) from exc
            # A linked database (400) never yields rows, so it leaves the listing complete.
            if exc.status != 400:
                self.problems.append(exc.reason)
            return [], LoadFailure(notion_url(db_id), exc.reason)
        return rows, None

    async def _page(
        self, task: _PageTask
    ) -> tuple[Fetched | Unchanged | LoadFailure | None, list[_PageTask | _DatabaseTask]]:
        doc_id = notion_url(task.page_id)
        try:
            page = task.page or await self.api.request("GET", f"/v1/pages/{task.page_id}")
        except NotionError as exc:
            if task.root or exc.fatal:
                raise _Abort(exc.reason) from exc
            self.problems.append(exc.reason)
            return LoadFailure(doc_id, exc.reason), []
        if page.get("archived") or page.get("in_trash"):
            if task.root:
                raise _Abort("The Notion page is in the trash.")
            return None, []  # gone from the source: not listed, so the caller deletes it

        edited = str(page.get("last_edited_time") or "")
        known = self.state.get(doc_id)
        if self._still_fresh(known, edited):
            return Unchanged(doc_id), _tasks_from(known.get("children") or [])

        try:
            blocks = await self._block_tree(task.page_id, 0, [self.max_blocks])
        except NotionError as exc:
            if exc.fatal:
                raise _Abort(exc.reason) from exc
            self.problems.append(exc.reason)  # its child pages are unknown now
            return LoadFailure(doc_id, exc.reason), []

        title = page_title(page)
        parts = [f"# {title}"]
        metadata: dict[str, str] = {}
        if task.database is not None:
            parts.append(properties_header(page, task.database))
            metadata["database"] = task.database
        parts.append(blocks_to_markdown(blocks))
        children = _child_refs(blocks)
        self.state[doc_id] = {
            "edited": edited,
            "checked": self.clock().isoformat(),
            "children": children,
        }
        d = self.defaults
        document = Document(
            doc_id=doc_id,
            title=title,
            text=join_blocks(parts),
            source=d.source,
            url=str(page.get("url") or doc_id),
            tags=d.tags,
            visibility=d.visibility,
            metadata=metadata,
        )
        return Fetched(document), _tasks_from(children)

    def _still_fresh(self, known: Any, edited: str) -> bool:
        if not isinstance(known, dict) or not edited or known.get("edited") != edited:
            return False
        try:
            checked = datetime.fromisoformat(str(known.get("checked")))
            edited_at = datetime.fromisoformat(edited)
        except ValueError:
            return False
        if checked.tzinfo is None or edited_at.tzinfo is None:
            return False
        return checked - edited_at >= _MARKER_SETTLE

    async def _block_tree(
        self, block_id: str, depth: int, budget: list[int]
    ) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        pages = self.api.paginate("GET", f"/v1/blocks/{block_id}/children")
        async with aclosing(pages):
            async for block in pages:
                if budget[0] <= 0:
                    log.warning(
                        "Notion: page %s has more than %d blocks; the rest is skipped",
                        block_id,
                        self.max_blocks,
                    )
                    break
                budget[0] -= 1
                blocks.append(block)
        for block in blocks:
            if (
                block.get("has_children")
                and block.get("type") not in ("child_page", "child_database")
                and depth < _MAX_BLOCK_DEPTH
                and budget[0] > 0
            ):
                block["_children"] = await self._block_tree(str(block["id"]), depth + 1, budget)
        return blocks


def _child_refs(blocks: list[dict[str, Any]]) -> list[list[str]]:
    """[kind, id] for every child page and inline database, however deeply nested."""
    refs: list[list[str]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "child_page":
            refs.append(["page", str(block.get("id"))])
        elif kind == "child_database":
            refs.append(["database", str(block.get("id"))])
        refs.extend(_child_refs(block.get("_children") or []))
    return refs


def _tasks_from(refs: list[Any]) -> list[_PageTask | _DatabaseTask]:
    tasks: list[_PageTask | _DatabaseTask] = []
    for ref in refs:
        if isinstance(ref, list) and len(ref) == 2:
            kind, ref_id = ref
            tasks.append(_PageTask(ref_id) if kind == "page" else _DatabaseTask(ref_id))
    return tasks


# --- the sources -----------------------------------------------------------------------------


class _NotionSource:
    kind = ""
    _root_is_database = False

    def __init__(
        self,
        target: str,
        *,
        token: str | Secret,
        base_url: str = NOTION_API_URL,
        notion_version: str = NOTION_VERSION,
        follow_child_pages: bool = True,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_blocks_per_page: int = DEFAULT_MAX_BLOCKS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float = DEFAULT_TIMEOUT,
        defaults: DocumentDefaults | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = _utcnow,
    ) -> None:
        self.notion_id = parse_notion_id(target)
        secret = Secret.wrap(token)
        if secret is None:
            raise ValueError("A Notion integration token is needed to read Notion.")
        self._token = secret
        self.base_url = base_url
        self.notion_version = notion_version
        self.follow_child_pages = follow_child_pages
        self.max_pages = max_pages
        self.max_blocks_per_page = max_blocks_per_page
        self.max_retries = max_retries
        self.timeout = timeout
        self.defaults = defaults or DocumentDefaults(source=f"{self.kind}:{self.notion_id}")
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.notion_id!r})"

    async def fetch(
        self, client: httpx.AsyncClient, state: dict[str, Any]
    ) -> AsyncIterator[FetchResult]:
        api = NotionAPI(
            client,
            self._token,
            base_url=self.base_url,
            notion_version=self.notion_version,
            max_retries=self.max_retries,
            timeout=self.timeout,
            sleep=self._sleep,
        )
        walk = _NotionWalk(
            api,
            state,
            defaults=self.defaults,
            follow_child_pages=self.follow_child_pages,
            max_pages=self.max_pages,
            max_blocks=self.max_blocks_per_page,
            clock=self._clock,
        )
        try:
            root: _PageTask | _DatabaseTask = (
                _DatabaseTask(self.notion_id, root=True)
                if self._root_is_database
                else _PageTask(self.notion_id, root=True)
            )
            async for result in walk.run(root):
                yield result
        except _Abort as exc:
            yield SourceFailed(exc.reason)
            return
        if walk.problems:
            yield SourceFailed(
                f"{len(walk.problems)} Notion page(s) or database(s) could not be read, so "
                f"nothing is treated as deleted this run. First problem: {walk.problems[0]}"
            )
            return
        for stale in set(state) - walk.listed:  # pages no longer under this source
            del state[stale]


class NotionPageSource(_NotionSource):
    """A Notion page and, when `follow_child_pages`, its child pages and inline databases."""

    kind = "notion_page"


class NotionDatabaseSource(_NotionSource):
    """Every row of a Notion database, one document each, properties first."""

    kind = "notion_database"
    _root_is_database = True

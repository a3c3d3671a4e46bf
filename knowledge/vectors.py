"""The vector store, one chromadb collection per knowledge base: on disk (PersistentClient, the
default) or on a Chroma server (HttpClient, when GREENROOM_CHROMA_URL is set; see
ServerVectorStore).

Two processes share the store (the bot serves it while `greenroom ingest` changes it), but
chromadb's embedded client keeps each collection's index in memory, per process, and never
notices another process's writes: its queries then miss new vectors or fail with
`InternalError ... Error finding id`, and a write made from that stale memory can save an index
without the other process's vectors. So:
- Every write counts itself in `chroma.writes`, a number in a small file beside the store. Each
  call first compares it with the count this process last saw (a pread, ~1 us) and, if another
  process wrote since, reopens chromadb's Rust bindings (fresh caches: an index is reloaded from
  disk and chroma's log on first use). The count is ours, not chroma's SQLite file: a second
  SQLite library opening that file in this process would break its POSIX locks.
- Writes, reopens and a collection's first query after a reopen hold `chroma.lock` (an flock),
  so no process writes from a stale state or loads an index while another saves it.
- A read that still fails with chromadb's InternalError or NotFoundError (another process wrote
  between the check and the read) reopens and is tried once more.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import struct
import threading
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedder import Embedder
from knowledge.errors import KnowledgeError, StoreUnavailable

log = logging.getLogger(__name__)

SEARCH_EF = 128  # HNSW recall at 100k near-duplicates: default ef finds ~69% of the exact top 8
# A new collection's index settings (chroma saves the index to disk every `sync_threshold`
# records written, 1,000 by default).
HNSW_CONFIGURATION: dict[str, Any] = {"space": "cosine", "ef_search": SEARCH_EF}


def _chroma_embedding_function(embedder: Embedder) -> Any:
    """Our model behind chromadb's interface, so chromadb never fetches its default model."""
    from chromadb.api.types import EmbeddingFunction

    class GreenroomEmbedding(EmbeddingFunction):
        def __init__(self) -> None:  # chromadb's base class warns without an explicit init
            pass

        def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
            return list(embedder.encode(list(input)))

        @staticmethod
        def name() -> str:
            return "greenroom"

        def get_config(self) -> dict[str, Any]:
            return {"fingerprint": embedder.fingerprint()}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> GreenroomEmbedding:
            raise ValueError("open the collection through knowledge.vectors.VectorStore")

        def default_space(self) -> str:
            return "cosine"

    return GreenroomEmbedding()


class ProcessLock:
    """A re-entrant lock that also excludes other processes: an flock on `path` while held.

    The outermost holder opens the file and takes the flock; a lock belongs to its open file, so
    two instances on one path exclude each other even in one process, and the kernel drops it
    when the process dies.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> ProcessLock:
        self._lock.acquire()
        if self._depth == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
            except BaseException:
                self._lock.release()
                raise
            self._fd = fd
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None
        self._lock.release()


class WriteCount:
    """A count of the store's writes in a file every process shares; bump it under the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._open_lock = threading.Lock()
        self._file()

    def _file(self) -> int:
        fd = self._fd
        if fd is None:
            with self._open_lock:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fd = self._fd
        return fd

    def value(self) -> int:
        data = os.pread(self._file(), 8, 0)
        return struct.unpack("<Q", data)[0] if len(data) == 8 else 0

    def bump(self) -> int:
        value = self.value() + 1
        os.pwrite(self._file(), struct.pack("<Q", value), 0)
        return value

    def close(self) -> None:
        with self._open_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


_READS = frozenset({"query", "get", "count", "peek"})


class VectorStore:
    """Chroma on disk. Vectors are added precomputed (we batch the model ourselves)."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        import chromadb
        from chromadb.config import Settings
        from chromadb.errors import InternalError, NotFoundError

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.embedder = embedder
        self._lock = ProcessLock(path.with_name(path.name + ".lock"))
        self._writes = WriteCount(path.with_name(path.name + ".writes"))
        self._seen = self._writes.value()  # before opening: a write from now on is news
        self.client = chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )
        self._ef = _chroma_embedding_function(embedder)
        self._handles: dict[str, Any] = {}  # opening a collection costs 2-5 ms per query
        self._collections: dict[str, Collection] = {}
        # chromadb keeps one RustBindingsAPI per path and process, shared by all its clients;
        # start() gives it new Rust bindings, which is how this process forgets what it cached.
        self._server = self.client._server
        if not (
            callable(getattr(self._server, "start", None)) and hasattr(self._server, "bindings")
        ):
            raise RuntimeError("knowledge/vectors.py cannot reopen this chromadb (made for 1.5)")
        self._retry_errors = (InternalError, NotFoundError)
        self._warm: set[str] = set()  # collections queried (index loaded) since the last reopen

    # -- staying current with other processes (see the module docstring) --------------------
    def _reopen(self) -> None:
        self._warm.clear()
        self._handles.clear()
        self._server.start()

    @contextmanager
    def _exclusive(self, reopen: bool = False, write: bool = False) -> Iterator[None]:
        """Hold the store lock with this process caught up: reopened if another process wrote
        since it last looked (or when asked). A write is counted, even one that failed."""
        with self._lock:
            writes = self._writes.value()
            if reopen or writes != self._seen:
                log.debug("reopening the vector store")
                self._reopen()
                self._seen = writes
            try:
                yield
            finally:
                if write:
                    self._seen = self._writes.bump()

    def _call(self, name: str, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        handle = self._handles.get(name)
        if (
            method in _READS
            and handle is not None
            and name in self._warm
            and self._writes.value() == self._seen
        ):
            try:
                return getattr(handle, method)(*args, **kwargs)
            except self._retry_errors as exc:
                log.info("vector store %s failed (%s): reopening, trying once more", method, exc)
                return self._call_exclusive(name, method, args, kwargs, reopen=True)
        return self._call_exclusive(name, method, args, kwargs, reopen=False)

    def _call_exclusive(
        self, name: str, method: str, args: tuple, kwargs: dict[str, Any], *, reopen: bool
    ) -> Any:
        with self._exclusive(reopen, write=method not in _READS):
            try:
                result = getattr(self._handle(name), method)(*args, **kwargs)
            except self._retry_errors as exc:
                if reopen:
                    raise
                log.info("vector store %s failed (%s): reopening, trying once more", method, exc)
                self._reopen()
                result = getattr(self._handle(name), method)(*args, **kwargs)
            if method == "query":
                self._warm.add(name)
            return result

    def _handle(self, name: str) -> Any:
        """chromadb's handle on a collection, created if missing (call under the lock)."""
        handle = self._handles.get(name)
        if handle is None:
            handle = self.client.get_or_create_collection(
                name,
                embedding_function=self._ef,
                configuration={"hnsw": dict(HNSW_CONFIGURATION)},
                metadata={"embedder": self.embedder.fingerprint()},
            )
            self._handles[name] = handle
        return handle

    # -- the API ----------------------------------------------------------------------------
    def collection(self, name: str) -> Collection:
        """The collection `name`, created if missing."""
        collection = self._collections.get(name)
        if collection is None:
            with self._exclusive():
                self._handle(name)
                collection = self._collections.setdefault(name, Collection(self, name))
        return collection

    def drop(self, name: str) -> None:
        with self._exclusive(write=True):
            self._handles.pop(name, None)
            self._warm.discard(name)
            try:
                self.client.delete_collection(name)
            except Exception:
                log.debug("collection %s was already gone", name)

    def names(self) -> list[str]:
        with self._exclusive():
            return [c.name for c in self.client.list_collections()]

    def _attribute(self, name: str, attribute: str) -> Any:
        with self._exclusive():
            return getattr(self._handle(name), attribute)

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """While held, no process writes to the store (for a consistent copy of it)."""
        with self._exclusive():
            yield

    def describe(self) -> str:
        return f"chroma on disk ({self.path})"

    def close(self) -> None:
        """Close the write count's file (opened again if the store is used again)."""
        self._writes.close()


# Chroma's rule for collection names, the same on disk and on a server (chromadb 1.5).
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{1,510})[A-Za-z0-9]")
CONNECT_TIMEOUT_S = 5.0  # a server that does not accept a connection in this long is down
REQUEST_TIMEOUT_S = 60.0  # chromadb's own HTTP client waits forever


def check_collection_name(name: str) -> str:
    """`name` if chroma accepts it as a collection name (3 to 512 characters of [A-Za-z0-9._-],
    starting and ending with a letter or digit), else a KnowledgeError saying so."""
    if not _COLLECTION_NAME.fullmatch(name):
        raise KnowledgeError(
            f"{name!r} cannot be a Chroma collection name: it needs 3 to 512 characters of"
            " letters, digits, '.', '_' and '-', starting and ending with a letter or digit"
        )
    return name


def parse_server_url(url: str) -> tuple[str, int, bool]:
    """(host, port, https) of a Chroma server address such as http://127.0.0.1:8000."""
    problem = (
        f"{url!r} is not a Chroma server address; use http://HOST:PORT, e.g. http://127.0.0.1:8000"
    )
    parts = urllib.parse.urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise KnowledgeError(problem) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise KnowledgeError(problem)
    https = parts.scheme == "https"
    return parts.hostname, port or (443 if https else 80), https


def server_database(data_dir: Path) -> str:
    """This data directory's database on a Chroma server: made up once, kept in
    `chroma.database` beside the catalogs, so two installs sharing a server keep apart."""
    path = data_dir / "chroma.database"
    if path.exists() and (name := path.read_text(encoding="utf-8").strip()):
        return name
    data_dir.mkdir(parents=True, exist_ok=True)
    draft = data_dir / f".chroma.database.{uuid.uuid4().hex}"
    draft.write_text(f"greenroom-{uuid.uuid4().hex[:12]}\n", encoding="utf-8")
    try:
        os.link(draft, path)  # atomic: of two processes starting at once, the first one wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="utf-8").strip()


class ServerVectorStore:
    """A Chroma server (`chroma run`) over HTTP, with the same API as VectorStore.

    The server owns the indexes, so every process (the bot, `greenroom ingest`, a second bot)
    sees every write at once: none of the on-disk store's write count, reopening or file lock.
    Each data directory keeps its collections in a database of its own on the server
    (`server_database`). A server that is down or does not answer raises StoreUnavailable, a
    KnowledgeError: a read is tried once more first, a write is not (a sync that stops there
    is redone by the next run, see knowledge/indexing.py).
    """

    def __init__(self, url: str, embedder: Embedder, database: str) -> None:
        import chromadb
        import httpx
        from chromadb.config import Settings
        from chromadb.errors import NotFoundError, UniqueConstraintError

        host, port, https = parse_server_url(url)
        self.url = url.strip().rstrip("/")
        self.database = database
        self.embedder = embedder
        self._httpx = httpx
        self._not_found = NotFoundError
        settings = dict(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host=host,
            chroma_server_http_port=port,
            chroma_server_ssl_enabled=https,
            anonymized_telemetry=False,
        )
        with self._reachable(starting=True):
            # chromadb's own client would wait for a connection as long as the OS lets it.
            httpx.get(f"{self.url}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT_S).raise_for_status()
            admin = chromadb.AdminClient(Settings(**settings))
            try:
                admin.get_database(database)
            except NotFoundError:
                with contextlib.suppress(UniqueConstraintError):  # another process made it
                    admin.create_database(database)
            self.client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=https,
                settings=Settings(anonymized_telemetry=False),
                database=database,
            )
        session = getattr(getattr(self.client, "_server", None), "_session", None)
        if not isinstance(session, httpx.Client):
            raise RuntimeError("knowledge/vectors.py cannot set this chromadb's HTTP timeouts")
        session.timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        self._ef = _chroma_embedding_function(embedder)
        self._handles: dict[str, Any] = {}
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"chroma server {self.url} (database {self.database})"

    @contextmanager
    def _reachable(self, starting: bool = False) -> Iterator[None]:
        """A server that cannot be reached becomes StoreUnavailable (and a warning in the log)."""
        try:
            yield
        except (self._httpx.TransportError, self._httpx.HTTPStatusError) as exc:
            raise self._unavailable(exc) from exc
        except ValueError as exc:  # chromadb's client when it cannot connect while starting
            if not starting or "connect" not in str(exc).lower():
                raise
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        if isinstance(exc, self._httpx.HTTPStatusError):  # something else at that address
            reason = f"HTTP {exc.response.status_code} for {exc.request.url.path}"
        else:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("the Chroma server at %s does not answer (%s)", self.url, reason)
        return StoreUnavailable(
            f"The knowledge base is unavailable: the Chroma server at {self.url} does not answer"
            f" ({reason}). Try again once it is back."
        )

    def _handle(
        self,
        name: str,
        *,
        fresh: bool = False,
        metadata: dict[str, Any] | None = None,
        hnsw: dict[str, Any] | None = None,
    ) -> Any:
        with self._lock:
            handle = None if fresh else self._handles.get(name)
            if handle is None:
                handle = self.client.get_or_create_collection(
                    check_collection_name(name),
                    embedding_function=self._ef,
                    configuration={"hnsw": dict(hnsw or HNSW_CONFIGURATION)},
                    metadata=metadata or {"embedder": self.embedder.fingerprint()},
                )
                self._handles[name] = handle
            return handle

    def _call(self, name: str, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        with self._reachable():
            try:
                return self._once(name, method, args, kwargs)
            except self._not_found:  # dropped (and perhaps made again) by another process
                log.info("collection %s was replaced on the server: opening it again", name)
                return getattr(self._handle(name, fresh=True), method)(*args, **kwargs)

    def _once(self, name: str, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        try:
            return getattr(self._handle(name), method)(*args, **kwargs)
        except self._httpx.TransportError as exc:
            if method not in _READS:
                raise
            log.info("vector store %s failed (%s): trying once more", method, exc)
            return getattr(self._handle(name), method)(*args, **kwargs)

    def _attribute(self, name: str, attribute: str) -> Any:
        with self._reachable():
            return getattr(self._handle(name), attribute)

    # -- the API (VectorStore's) ----------------------------------------------------------
    def collection(
        self,
        name: str,
        *,
        metadata: dict[str, Any] | None = None,
        hnsw: dict[str, Any] | None = None,
    ) -> Collection:
        """The collection `name`, created if missing (with this metadata and index settings,
        by default this embedder's fingerprint and HNSW_CONFIGURATION)."""
        collection = self._collections.get(name)
        if collection is None:
            with self._reachable():
                self._handle(name, metadata=metadata, hnsw=hnsw)
            collection = self._collections.setdefault(name, Collection(self, name))
        return collection

    def drop(self, name: str) -> None:
        with self._lock:
            self._handles.pop(name, None)
        with self._reachable():
            try:
                self.client.delete_collection(name)
            except self._not_found:
                log.debug("collection %s was already gone", name)

    def names(self) -> list[str]:
        with self._reachable():
            return [c.name for c in self.client.list_collections()]

    def close(self) -> None:
        """Nothing to close: chromadb's HTTP client is shared by the process's clients."""


def open_vector_store(
    data_dir: Path, embedder: Embedder, chroma_url: str | None = None
) -> VectorStore | ServerVectorStore:
    """The data directory's vector store: on the Chroma server at `chroma_url` when one is
    given, else on disk in data_dir/chroma."""
    if chroma_url and chroma_url.strip():
        return ServerVectorStore(chroma_url, embedder, server_database(data_dir))
    return VectorStore(data_dir / "chroma", embedder)


class Collection:
    """A collection that stays usable when another process changes the store.

    Takes chromadb's collection calls (query, get, count, upsert, update, delete, ...), each
    through the store's check, so a caller can keep one as long as it likes.
    """

    def __init__(self, store: VectorStore | ServerVectorStore, name: str) -> None:
        self.store = store
        self.name = name

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.store._call(self.name, "query", args, kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.store._call(self.name, "get", args, kwargs)

    def count(self) -> int:
        return self.store._call(self.name, "count", (), {})

    def peek(self, *args: Any, **kwargs: Any) -> Any:
        return self.store._call(self.name, "peek", args, kwargs)

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.store._call(self.name, "add", args, kwargs)

    def upsert(self, *args: Any, **kwargs: Any) -> None:
        self.store._call(self.name, "upsert", args, kwargs)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.store._call(self.name, "update", args, kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self.store._call(self.name, "delete", args, kwargs)

    def __getattr__(self, attribute: str) -> Any:
        """Anything else (configuration_json, metadata, id) from chromadb's current handle."""
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return self.store._attribute(self.name, attribute)

    def __repr__(self) -> str:
        return f"Collection({self.name!r})"

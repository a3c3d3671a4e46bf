"""A source as configuration: what to read, how often, with which options (never a token)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingest.connectors.base import DocumentDefaults, RemoteSource, Secret
from ingest.connectors.google_docs import GoogleDocSource, parse_google_doc_id
from ingest.connectors.notion import NotionDatabaseSource, NotionPageSource, parse_notion_id
from ingest.connectors.notion_export import NotionExportSource
from ingest.connectors.web import SitemapSource, WebPageSource, normalise_url
from ingest.documents import PRIVATE, PUBLIC
from ingest.errors import UserFacingError

SOURCE_KINDS = (
    "folder",
    "google_doc",
    "notion_page",
    "notion_database",
    "notion_export",
    "web_page",
    "sitemap",
)
MIN_SCHEDULE_MINUTES = 5
MAX_SCHEDULE_MINUTES = 7 * 24 * 60
_SECRET_WORDS = ("token", "secret", "password", "passwd", "apikey", "api_key", "authorization",
                 "cookie", "credential", "bearer")  # fmt: skip
_SECRET_PARAMS = frozenset({"token", "access_token", "auth", "key", "api_key", "apikey",
                            "password", "secret", "sig", "signature"})  # fmt: skip


class SourceSpecError(UserFacingError, ValueError):
    """A source spec that cannot be used; the message says what to change."""


def _positive_number(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return None if ok and math.isfinite(value) and value > 0 else "a number above 0"


def _count(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else f"a whole number from {low:,} to {high:,}"

    return check


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _visibility(value: Any) -> str | None:
    return None if value in (PUBLIC, PRIVATE) else f"{PUBLIC!r} or {PRIVATE!r}"


def _tags(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(t, str) and t.strip() for t in value)
    return None if ok else "a list of non-empty strings"


_COMMON: dict[str, Callable[[Any], str | None]] = {"visibility": _visibility, "tags": _tags}
_HTTP = {"timeout": _positive_number, "max_bytes": _count(1_000, 200_000_000)}
_NOTION = {
    "follow_child_pages": _flag,
    "max_pages": _count(1, 10_000),
    "max_blocks_per_page": _count(1, 100_000),
    "timeout": _positive_number,
}
_OPTIONS: dict[str, dict[str, Callable[[Any], str | None]] | None] = {
    "folder": None,  # the folder loader owns its options
    "google_doc": _HTTP,
    "notion_page": _NOTION,
    "notion_database": _NOTION,
    "notion_export": {},
    "web_page": _HTTP,
    "sitemap": {
        **_HTTP,
        "max_urls": _count(1, 10_000),
        "max_sitemaps": _count(1, 1_000),
        "allow_other_hosts": _flag,
        "max_crawl_delay": _positive_number,
    },
}


def _target_problem(kind: str, target: str) -> str | None:
    if not target.strip() or "\x00" in target:
        return "The target is empty."
    query = {k.lower() for k in parse_qs(urlsplit(target).query)}
    if not query.isdisjoint(_SECRET_PARAMS):
        return "The target carries a token in its address; pass tokens separately."
    try:
        if kind == "google_doc":
            parse_google_doc_id(target)
        elif kind in ("notion_page", "notion_database"):
            parse_notion_id(target)
        elif kind in ("web_page", "sitemap"):
            normalise_url(target)
    except ValueError as exc:
        return str(exc)
    if kind == "notion_export" and not target.lower().endswith(".zip"):
        return "A Notion export target is the path of the export's .zip file."
    return None


@dataclass(frozen=True)
class SourceSpec:
    """What one knowledge-base source reads. Validated on creation (`SourceSpecError`).

    `schedule_minutes` is how often to sync it (None: only on demand). Tokens are never part of
    a spec: they are passed to `build_source` separately.
    """

    kind: str
    target: str
    options: Mapping[str, Any] = field(default_factory=dict)
    schedule_minutes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.options, Mapping):
            raise SourceSpecError("A source spec's options must be a mapping of names to values.")
        object.__setattr__(self, "options", dict(self.options))
        problems = self._problems()
        if problems:
            raise SourceSpecError(" ".join(problems))

    def _problems(self) -> list[str]:
        if self.kind not in SOURCE_KINDS:
            return [f"Unknown source kind {self.kind!r}; use one of: {', '.join(SOURCE_KINDS)}."]
        problems: list[str] = []
        if not isinstance(self.target, str):
            problems.append("The target must be text.")
        else:
            problem = _target_problem(self.kind, self.target)
            if problem:
                problems.append(problem)
        allowed = _OPTIONS[self.kind]
        for name, value in self.options.items():
            if not isinstance(name, str):
                problems.append(f"Option names must be text, not {name!r}.")
            elif any(word in name.lower() for word in _SECRET_WORDS):
                problems.append(
                    f"Option {name!r} looks like a secret; tokens are passed separately, "
                    "never stored in a source spec."
                )
            elif name in _COMMON or (allowed is not None and name in allowed):
                check = _COMMON.get(name) or (allowed or {})[name]
                expected = check(value)
                if expected:
                    problems.append(f"Option {name!r} must be {expected}.")
            elif allowed is not None:
                known = ", ".join(sorted({*allowed, *_COMMON}))
                problems.append(f"A {self.kind} source has no option {name!r} (known: {known}).")
        minutes = self.schedule_minutes
        if minutes is not None and (
            not isinstance(minutes, int)
            or isinstance(minutes, bool)
            or not MIN_SCHEDULE_MINUTES <= minutes <= MAX_SCHEDULE_MINUTES
        ):
            problems.append(
                f"schedule_minutes must be a whole number from {MIN_SCHEDULE_MINUTES} to "
                f"{MAX_SCHEDULE_MINUTES:,} (a week), or empty for syncing on demand only."
            )
        return problems

    @property
    def key(self) -> str:
        """A stable name for the source (also the default `Document.source`)."""
        return f"{self.kind}:{self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "options": dict(self.options),
            "schedule_minutes": self.schedule_minutes,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SourceSpec:
        if not isinstance(data, dict):
            raise SourceSpecError("A source spec must be a JSON object.")
        unknown = set(data) - {"kind", "target", "options", "schedule_minutes"}
        if unknown:
            raise SourceSpecError(
                f"Unknown field(s) in the source spec: {', '.join(sorted(unknown))}."
            )
        missing = [name for name in ("kind", "target") if name not in data]
        if missing:
            raise SourceSpecError(f"The source spec lacks: {', '.join(missing)}.")
        options = data.get("options")
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise SourceSpecError("The source spec's options must be a JSON object.")
        return cls(
            kind=data["kind"],
            target=data["target"],
            options=options,
            schedule_minutes=data.get("schedule_minutes"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SourceSpec:
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise SourceSpecError(f"The source spec is not valid JSON ({exc}).") from exc
        return cls.from_dict(data)


def build_source(
    spec: SourceSpec,
    *,
    token: str | Secret | None = None,
    source_name: str | None = None,
    **overrides: Any,
) -> RemoteSource:
    """The connector for a spec. `overrides` reach the connector (base_url, sleep, clock ...)."""
    options = dict(spec.options)
    defaults = DocumentDefaults(
        source=source_name or spec.key,
        visibility=options.pop("visibility", PUBLIC),
        tags=tuple(options.pop("tags", ())),
    )
    kwargs = {**options, **overrides, "defaults": defaults}
    if spec.kind == "folder":
        raise SourceSpecError("Folder sources are read by ingest.loaders, not a remote connector.")
    if spec.kind in ("notion_page", "notion_database"):
        if token is None:
            raise SourceSpecError("A Notion source needs the integration token.")
        cls = NotionPageSource if spec.kind == "notion_page" else NotionDatabaseSource
        return cls(spec.target, token=token, **kwargs)
    if spec.kind == "google_doc":
        return GoogleDocSource(spec.target, token=token, **kwargs)
    if token is not None:
        raise SourceSpecError(f"A {spec.kind} source does not take a token.")
    if spec.kind == "notion_export":
        return NotionExportSource(spec.target, **kwargs)
    if spec.kind == "web_page":
        return WebPageSource(spec.target, **kwargs)
    return SitemapSource(spec.target, **kwargs)

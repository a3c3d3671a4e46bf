"""The values that flow through ingest: documents in, chunks out, failures reported."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

PUBLIC = "public"
PRIVATE = "private"


@dataclass(frozen=True)
class Document:
    """One source document, normalised to Markdown-ish text with `#` headings."""

    doc_id: str  # stable id: a path relative to the source root, or a URL
    title: str
    text: str
    source: str = ""  # name of the source the document came from
    path: str | None = None  # path relative to the ingested root, when it is a file
    url: str | None = None
    tags: tuple[str, ...] = ()
    visibility: str = PUBLIC
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index, so a retitle counts as a change."""
        h = hashlib.sha256()
        for part in (
            self.title,
            self.text,
            self.url or "",
            self.visibility,
            ",".join(self.tags),
            repr(sorted(self.metadata.items())),
        ):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
        return h.hexdigest()


@dataclass(frozen=True)
class LoadFailure:
    """A document that could not be read; reported, never indexed."""

    doc_id: str
    reason: str
    path: str | None = None


LoadResult = Document | LoadFailure

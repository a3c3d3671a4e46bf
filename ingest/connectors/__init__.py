"""Connectors for remote sources: Google Docs, Notion (API and export zip), web pages, sitemaps.

They produce `Document`s (never index anything) through one protocol, `RemoteSource.fetch`.
"""

from ingest.connectors.base import (
    DocumentDefaults,
    Fetched,
    FetchResult,
    RemoteSource,
    Secret,
    SourceFailed,
    SourceRun,
    Unchanged,
)
from ingest.connectors.google_docs import GoogleDocSource, parse_google_doc_id
from ingest.connectors.notion import NotionDatabaseSource, NotionPageSource, parse_notion_id
from ingest.connectors.notion_blocks import notion_url
from ingest.connectors.notion_export import (
    ExportLimits,
    NotionExportError,
    NotionExportSource,
    load_notion_export,
)
from ingest.connectors.spec import SOURCE_KINDS, SourceSpec, SourceSpecError, build_source
from ingest.connectors.web import SitemapSource, WebPageSource

__all__ = [
    "SOURCE_KINDS",
    "DocumentDefaults",
    "ExportLimits",
    "FetchResult",
    "Fetched",
    "GoogleDocSource",
    "NotionDatabaseSource",
    "NotionExportError",
    "NotionExportSource",
    "NotionPageSource",
    "RemoteSource",
    "Secret",
    "SitemapSource",
    "SourceFailed",
    "SourceRun",
    "SourceSpec",
    "SourceSpecError",
    "Unchanged",
    "WebPageSource",
    "build_source",
    "load_notion_export",
    "notion_url",
    "parse_google_doc_id",
    "parse_notion_id",
]

"""SourceSpec: validation with readable errors, JSON round trip, building connectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.connectors.base import RemoteSource
from ingest.connectors.google_docs import GoogleDocSource
from ingest.connectors.notion import NotionDatabaseSource, NotionPageSource
from ingest.connectors.notion_export import NotionExportSource
from ingest.connectors.spec import SOURCE_KINDS, SourceSpec, SourceSpecError, build_source
from ingest.connectors.web import SitemapSource, WebPageSource

NOTION_PAGE = "https://www.notion.so/space/Notes-" + "1" * 32
GOOGLE_DOC = "https://docs.google.com/document/d/1AbCdEfGhIjKlMnOpQrStUvWxYz/edit"

VALID = [
    SourceSpec("folder", "notes/", {"anything": 1}),
    SourceSpec("google_doc", GOOGLE_DOC, {"timeout": 10}, schedule_minutes=60),
    SourceSpec("notion_page", NOTION_PAGE, {"follow_child_pages": False, "tags": ["faq"]}),
    SourceSpec("notion_database", "3" * 32, {"visibility": "private"}),
    SourceSpec("notion_export", "/uploads/export.zip"),
    SourceSpec("web_page", "https://example.com/about", {"max_bytes": 100_000}),
    SourceSpec("sitemap", "https://example.com/sitemap.xml", {"max_urls": 50}, 1440),
]


@pytest.mark.parametrize("spec", VALID, ids=lambda s: s.kind)
def test_json_round_trip(spec: SourceSpec) -> None:
    assert SourceSpec.from_json(spec.to_json()) == spec
    assert SourceSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "dropbox", "target": "x"}, "Unknown source kind 'dropbox'"),
        ({"kind": "web_page", "target": "ftp://example.com"}, "not an http"),
        ({"kind": "web_page", "target": "https://me:pw@example.com/"}, "password"),
        ({"kind": "google_doc", "target": "https://example.com/doc"}, "neither a Google Docs"),
        ({"kind": "notion_page", "target": "hello"}, "neither a Notion link"),
        ({"kind": "notion_export", "target": "/tmp/export.tar"}, ".zip"),
        ({"kind": "folder", "target": "  "}, "empty"),
        (
            {"kind": "sitemap", "target": "https://e.com/s.xml", "options": {"max_urls": 0}},
            "'max_urls' must be a whole number from 1",
        ),
        (
            {"kind": "web_page", "target": "https://e.com/", "options": {"depth": 2}},
            "has no option 'depth'",
        ),
        (
            {"kind": "notion_page", "target": NOTION_PAGE, "options": {"token": "ntn_x"}},
            "looks like a secret",
        ),
        (
            {"kind": "folder", "target": "notes", "options": {"api_key": "x"}},
            "looks like a secret",
        ),
        (
            {"kind": "web_page", "target": "https://e.com/page?token=abc"},
            "token in its address",
        ),
        (
            {"kind": "web_page", "target": "https://e.com/", "options": {"visibility": "secret"}},
            "'public' or 'private'",
        ),
        ({"kind": "web_page", "target": "https://e.com/", "schedule_minutes": 1}, "from 5"),
        ({"kind": "web_page", "target": "https://e.com/", "schedule_minutes": True}, "from 5"),
    ],
)
def test_validation_errors_are_readable(kwargs: dict, message: str) -> None:
    with pytest.raises(SourceSpecError, match=message):
        SourceSpec(**kwargs)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SourceSpecError) as info:
        SourceSpec("sitemap", "nope", {"max_urls": -1}, schedule_minutes=0)
    text = str(info.value)
    assert "not an http" in text and "max_urls" in text and "schedule_minutes" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"kind": "web_page"}', "lacks: target"),
        ('{"kind": "web_page", "target": "https://e.com", "extra": 1}', "Unknown field"),
        ('{"kind": "web_page", "target": "https://e.com", "options": []}', "options"),
    ],
)
def test_bad_json_is_readable(text: str, message: str) -> None:
    with pytest.raises(SourceSpecError, match=message):
        SourceSpec.from_json(text)


@given(st.text(max_size=40), st.sampled_from(SOURCE_KINDS))
def test_any_target_either_validates_or_raises_spec_error(target: str, kind: str) -> None:
    try:
        spec = SourceSpec(kind, target)
    except SourceSpecError:
        return
    assert SourceSpec.from_json(spec.to_json()) == spec


def test_build_source_picks_the_connector_and_applies_common_options() -> None:
    kinds = {
        "google_doc": GoogleDocSource,
        "notion_page": NotionPageSource,
        "notion_database": NotionDatabaseSource,
        "notion_export": NotionExportSource,
        "web_page": WebPageSource,
        "sitemap": SitemapSource,
    }
    for spec in VALID[1:]:
        token = (
            "ntn_tok" if spec.kind.startswith("notion_") and spec.kind != "notion_export" else None
        )
        source = build_source(spec, token=token)
        assert isinstance(source, kinds[spec.kind]) and source.kind == spec.kind
        assert isinstance(source, RemoteSource)
    notion = build_source(VALID[2], token="ntn_tok")
    assert notion.defaults.tags == ("faq",) and notion.follow_child_pages is False
    assert notion.defaults.source == VALID[2].key
    assert (
        build_source(VALID[3], token="t", source_name="Mod notes").defaults.visibility == "private"
    )


def test_build_source_refusals() -> None:
    with pytest.raises(SourceSpecError, match=r"ingest\.loaders"):
        build_source(VALID[0])
    with pytest.raises(SourceSpecError, match="needs the integration token"):
        build_source(VALID[2])
    with pytest.raises(SourceSpecError, match="does not take a token"):
        build_source(VALID[5], token="x")

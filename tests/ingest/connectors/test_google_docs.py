"""Google Docs export endpoint, reproduced on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from ingest.connectors.base import Fetched, SourceFailed
from ingest.connectors.google_docs import (
    LOGIN_PAGE,
    NOT_SHARED,
    GoogleDocSource,
    parse_google_doc_id,
)

from ._helpers import collect

DOC_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-xyz"

MARKDOWN = """# Stream Notes

Intro paragraph with **bold** text.

![][image1]

## Schedule

- Tuesday 8pm
- Friday 9pm

[image1]: <data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk>
"""


def export_app(routes: dict[str, web.Response | BaseException], seen: list[dict] | None = None):
    """An export endpoint answering per format ("md"/"txt") with a canned response."""

    async def export(request: web.Request) -> web.StreamResponse:
        if seen is not None:
            seen.append({"format": request.query.get("format"), **dict(request.headers)})
        answer = routes.get(request.query.get("format", ""))
        if answer is None:
            return web.Response(status=400, text="unsupported format")
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def login(request: web.Request) -> web.Response:
        return web.Response(
            text="<!DOCTYPE html><html><body><form>Sign in - Google Accounts</form></body></html>",
            content_type="text/html",
        )

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_get(f"/document/d/{DOC_ID}/export", export)
    app.router.add_get("/ServiceLogin", login)
    app.router.add_get("/slow", slow)
    return app


def md_response(body: str = MARKDOWN, filename: str | None = "Stream Notes.md") -> web.Response:
    headers = {}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(text=body, content_type="text/markdown", charset="utf-8", headers=headers)


@pytest.mark.parametrize(
    "link",
    [
        DOC_ID,
        f"https://docs.google.com/document/d/{DOC_ID}/edit?usp=sharing",
        f"https://docs.google.com/document/d/{DOC_ID}",
        f"https://docs.google.com/document/u/0/d/{DOC_ID}/edit#heading=h.abc",
        f"https://docs.google.com/open?id={DOC_ID}",
        f"https://drive.google.com/file/d/{DOC_ID}/view",
        f"https://drive.google.com/open?id={DOC_ID}",
    ],
)
def test_doc_id_is_found_in_every_link_form(link: str) -> None:
    assert parse_google_doc_id(link) == DOC_ID


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ("https://docs.google.com/document/d/e/2PACX-1vQabcdefghijklmnopqrstuvwxyz/pub", "Publish"),
        (f"https://docs.google.com/spreadsheets/d/{DOC_ID}/edit", "spreadsheets"),
        ("https://example.com/document/d/abc", "neither"),
        ("not a link", "neither"),
    ],
)
def test_bad_links_say_why(link: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_google_doc_id(link)


async def test_markdown_export_keeps_headings_and_drops_inline_images(serve, client) -> None:
    seen: list[dict] = []
    base = await serve(export_app({"md": md_response()}, seen))
    results = await collect(GoogleDocSource(DOC_ID, base_url=base), client)

    assert len(results) == 1 and isinstance(results[0], Fetched)
    doc = results[0].document
    assert doc.doc_id == f"https://docs.google.com/document/d/{DOC_ID}"
    assert doc.url == f"https://docs.google.com/document/d/{DOC_ID}/edit"
    assert doc.title == "Stream Notes"
    assert "# Stream Notes" in doc.text and "## Schedule" in doc.text
    assert "- Tuesday 8pm" in doc.text
    assert "base64" not in doc.text and "image1" not in doc.text
    assert doc.metadata == {"export_format": "md"}
    assert [s["format"] for s in seen] == ["md"]
    assert "Authorization" not in seen[0]


async def test_title_falls_back_to_first_heading(serve, client) -> None:
    base = await serve(export_app({"md": md_response(filename=None)}))
    [result] = await collect(GoogleDocSource(DOC_ID, base_url=base), client)
    assert isinstance(result, Fetched) and result.document.title == "Stream Notes"


async def test_rfc6266_filename_star_wins(serve, client) -> None:
    response = md_response(filename=None)
    response.headers["Content-Disposition"] = (
        "attachment; filename=\"Caf_ notes.md\"; filename*=UTF-8''Caf%C3%A9%20notes.md"
    )
    base = await serve(export_app({"md": response}))
    [result] = await collect(GoogleDocSource(DOC_ID, base_url=base), client)
    assert isinstance(result, Fetched) and result.document.title == "Café notes"


async def test_plain_text_fallback_when_markdown_is_unavailable(serve, client) -> None:
    txt = web.Response(
        body="\ufeffStream Notes\n\nSchedule\nTuesday 8pm\n".encode(),
        content_type="text/plain",
        headers={"Content-Disposition": 'attachment; filename="Stream Notes.txt"'},
    )
    seen: list[dict] = []
    base = await serve(export_app({"md": web.Response(status=500), "txt": txt}, seen))
    [result] = await collect(GoogleDocSource(DOC_ID, base_url=base), client)

    assert isinstance(result, Fetched)
    assert result.document.title == "Stream Notes"
    assert result.document.text == "Stream Notes\n\nSchedule\nTuesday 8pm"
    assert result.document.metadata == {"export_format": "txt"}
    assert [s["format"] for s in seen] == ["md", "txt"]


async def test_403_means_not_shared_and_does_not_try_plain_text(serve, client) -> None:
    seen: list[dict] = []
    base = await serve(export_app({"md": web.Response(status=403)}, seen))
    results = await collect(GoogleDocSource(DOC_ID, base_url=base, token="ya29.tok"), client)
    assert results == [SourceFailed(NOT_SHARED)]
    assert len(seen) == 1
    assert seen[0]["Authorization"] == "Bearer ya29.tok"


async def test_login_page_instead_of_the_document(serve, client) -> None:
    redirect = web.HTTPFound("/ServiceLogin?continue=somewhere")
    base = await serve(export_app({"md": redirect, "txt": redirect}))
    results = await collect(GoogleDocSource(DOC_ID, base_url=base), client)
    assert results == [SourceFailed(LOGIN_PAGE)]


async def test_login_html_sent_as_plain_text_is_still_caught(serve, client) -> None:
    sneaky = web.Response(
        text="<!doctype html><html><body>Sign in</body></html>", content_type="text/plain"
    )
    base = await serve(export_app({"md": sneaky}))
    assert await collect(GoogleDocSource(DOC_ID, base_url=base), client) == [
        SourceFailed(LOGIN_PAGE)
    ]


async def test_404_fails_the_source_readably(serve, client) -> None:
    base = await serve(
        export_app({"md": web.Response(status=404), "txt": web.Response(status=404)})
    )
    [result] = await collect(GoogleDocSource(DOC_ID, base_url=base), client)
    assert isinstance(result, SourceFailed)
    assert "No Google Doc was found" in result.reason and "404" in result.reason


async def test_timeout_fails_the_source(serve, client) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return md_response()

    app = web.Application()
    app.router.add_get(f"/document/d/{DOC_ID}/export", slow)
    base = await serve(app)
    [result] = await collect(GoogleDocSource(DOC_ID, base_url=base, timeout=0.2), client)
    assert isinstance(result, SourceFailed) and "within 0.2 seconds" in result.reason


async def test_malformed_answers_are_reported(serve, client) -> None:
    json_error = web.json_response({"error": "weird"})
    binary = web.Response(body=b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", content_type="text/plain")
    base = await serve(export_app({"md": json_error, "txt": binary}))
    [result] = await collect(GoogleDocSource(DOC_ID, base_url=base), client)
    assert isinstance(result, SourceFailed) and "malformed" in result.reason


async def test_size_limit(serve, client) -> None:
    base = await serve(export_app({"md": md_response("x" * 5_000)}))
    [result] = await collect(GoogleDocSource(DOC_ID, base_url=base, max_bytes=1_000), client)
    assert isinstance(result, SourceFailed) and "limit" in result.reason

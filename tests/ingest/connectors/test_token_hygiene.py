"""Tokens never reach log lines, reprs, results or specs, on success or failure."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from ingest.connectors.google_docs import GoogleDocSource
from ingest.connectors.notion import NotionAPI, NotionPageSource
from ingest.connectors.spec import SourceSpec, build_source

from ._helpers import Sleeps, collect
from .fake_notion import TOKEN, FakeNotion, dashed

GOOGLE_TOKEN = "ya29.a0AfB_byGoogleTokenValue-0123456789"
DOC_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
ROOT = dashed("1" * 32)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # root: catches httpx, httpcore and our own loggers
    for name in ("httpx", "httpcore", "ingest"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


async def test_tokens_never_appear_in_logs_or_reprs(serve, client, all_logs) -> None:
    fake = FakeNotion()
    fake.add_page(ROOT, "Home", [fake.text_block("paragraph", "hi")])
    fake.fail_first[f"/v1/pages/{ROOT}"] = [web.Response(status=503)]

    async def export(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Bearer {GOOGLE_TOKEN}"
        return web.Response(status=403)

    google = web.Application()
    google.router.add_get(f"/document/d/{DOC_ID}/export", export)
    notion_base = await serve(fake.app())
    google_base = await serve(google)

    shown: list[str] = []
    for token in (TOKEN, "secret_wrong_token_value"):  # success, then 401
        source = NotionPageSource(ROOT, token=token, base_url=notion_base, sleep=Sleeps())
        results = await collect(source, client)
        shown += [repr(source), str(source), repr(results), repr(vars(source))]
    gdoc = GoogleDocSource(DOC_ID, token=GOOGLE_TOKEN, base_url=google_base)
    results = await collect(gdoc, client)
    shown += [repr(gdoc), repr(results), repr(vars(gdoc))]
    api = NotionAPI(client, NotionPageSource(ROOT, token=TOKEN)._token)
    shown += [repr(api), repr(vars(api))]

    spec = SourceSpec("notion_page", ROOT)
    built = build_source(spec, token=TOKEN)
    shown += [spec.to_json(), repr(spec), repr(built), repr(vars(built))]

    assert all_logs.records, "the fetches should have logged something"
    everything = all_logs.text + "\n".join(shown)
    for token in (TOKEN, "secret_wrong_token_value", GOOGLE_TOKEN):
        assert token not in everything

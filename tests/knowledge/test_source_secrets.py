"""A server that echoes the Authorization header back never gets our token stored or logged."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from ingest.connectors.base import Secret
from ingest.connectors.spec import SourceSpec
from knowledge.base import Library
from knowledge.source_registry import FAILED
from knowledge.source_syncer import SourceSyncer, SourceTokens
from tests.ingest.connectors._helpers import Sleeps
from tests.ingest.connectors.conftest import serve  # noqa: F401 - the local server fixture
from tests.ingest.connectors.fake_notion import TOKEN, FakeNotion, dashed

pytestmark = pytest.mark.slow

KB = "guild-1"
ROOT = dashed("1" * 32)
CHILD = dashed("2" * 32)
GOOGLE_TOKEN = "ya29.a0AfB_byGoogleTokenValue-0123456789"


def echo(status: int) -> web.Response:
    """What a careless endpoint (or a proxy's error page) answers: the request's headers."""
    message = f"Bad request. Received headers: Authorization: Bearer {TOKEN}; Notion-Version: x"
    body = {"object": "error", "status": status, "code": "validation_error", "message": message}
    return web.json_response(body, status=status)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("knowledge", "ingest", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


async def syncer_for(library: Library, base: str, sleep=None) -> SourceSyncer:
    return SourceSyncer(
        library,
        httpx.AsyncClient(trust_env=False),
        SourceTokens(notion=Secret(TOKEN), google=Secret(GOOGLE_TOKEN)),
        connector_options={"notion_page": {"base_url": base, "sleep": sleep or Sleeps()}},
    )


def assert_no_token(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text and GOOGLE_TOKEN not in text, text


@pytest.fixture
async def notion(serve) -> AsyncIterator[tuple[FakeNotion, str]]:  # noqa: F811
    fake = FakeNotion()
    fake.add_page(
        ROOT,
        "Home",
        [
            fake.text_block("paragraph", "The stream starts at eight."),
            fake.block("child_page", id=CHILD, title="Gear"),
        ],
    )
    fake.add_page(CHILD, "Gear", [fake.text_block("paragraph", "A Shure SM7B.")])
    yield fake, await serve(fake.app())


async def test_an_echoed_token_in_a_failed_source_is_redacted(
    notion, library: Library, all_logs
) -> None:
    fake, base = notion
    fake.fail_first[f"/v1/pages/{ROOT}"] = [echo(400)]
    syncer = await syncer_for(library, base)
    try:
        record, outcome = await syncer.add(KB, SourceSpec("notion_page", "1" * 32))
    finally:
        await syncer.aclose()

    assert outcome is not None and outcome.result.status == FAILED
    assert "Authorization: Bearer [redacted]" in outcome.result.message
    stored = library.open(KB).sources.get(record.key).last_result
    assert_no_token(outcome.result.message, json.dumps(stored.to_json()), all_logs.text)
    assert "[redacted]" in all_logs.text  # the failure was logged, without the token


async def test_an_echoed_token_in_one_failed_page_is_redacted(
    notion, library: Library, all_logs
) -> None:
    fake, base = notion
    fake.fail_first[f"/v1/pages/{CHILD}"] = [echo(400)]
    syncer = await syncer_for(library, base)
    try:
        record, outcome = await syncer.add(KB, SourceSpec("notion_page", "1" * 32))
    finally:
        await syncer.aclose()

    assert outcome is not None and outcome.result.added == 1  # the home page was stored
    [(_, reason)] = outcome.result.failures  # the child page's own failure
    assert "Bearer [redacted]" in reason and "Bearer [redacted]" in outcome.result.message
    stored = library.open(KB).sources.get(record.key).last_result
    assert_no_token(repr(outcome.result), json.dumps(stored.to_json()), all_logs.text)


async def test_a_token_in_an_unexpected_error_stays_out_of_the_log(
    notion, library: Library, all_logs
) -> None:
    fake, base = notion
    fake.fail_first[f"/v1/pages/{ROOT}"] = [web.Response(status=503)]

    async def broken_sleep(seconds: float) -> None:
        raise RuntimeError(f"sleep broke while holding headers {{'Authorization': '{TOKEN}'}}")

    syncer = await syncer_for(library, base, sleep=broken_sleep)
    try:
        record, outcome = await syncer.add(KB, SourceSpec("notion_page", "1" * 32))
    finally:
        await syncer.aclose()

    assert outcome is not None and outcome.result.status == FAILED
    assert "RuntimeError" in outcome.result.message
    assert "Traceback" in all_logs.text and "RuntimeError" in all_logs.text  # still useful
    assert_no_token(
        all_logs.text, json.dumps(library.open(KB).sources.get(record.key).last_result.to_json())
    )

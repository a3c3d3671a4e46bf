"""Notion API connector against a local fake of the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from aiohttp import web

from ingest.connectors.base import Fetched, SourceFailed, SourceRun, Unchanged
from ingest.connectors.notion import (
    NOTION_VERSION,
    NotionDatabaseSource,
    NotionPageSource,
    parse_notion_id,
)
from ingest.connectors.notion_blocks import blocks_to_markdown, notion_url, property_text
from ingest.documents import LoadFailure

from ._helpers import Sleeps, collect
from .fake_notion import EDITED, TOKEN, FakeNotion, dashed, rt

ROOT = dashed("1" * 32)
CHILD = dashed("2" * 32)
GRANDCHILD = dashed("7" * 32)
DB = dashed("3" * 32)
ROWS = [dashed(c * 32) for c in "456"]
LATER = datetime.fromisoformat(EDITED) + timedelta(minutes=10)


def page_tree(fake: FakeNotion) -> None:
    """A root page with one of everything, a child page and a grandchild page."""
    b = fake.block
    t = fake.text_block
    fake.add_page(
        ROOT,
        "Stream Notes",
        [
            t("heading_1", "Setup"),
            b(
                "paragraph",
                rich_text=[
                    rt("Camera is "),
                    rt("Sony", bold=True),
                    rt(", "),
                    rt("mostly", italic=True),
                    rt(" at "),
                    rt("1080p60", code=True),
                    rt("; buy "),
                    rt("merch", href="https://shop.example/merch"),
                ],
            ),
            t("bulleted_list_item", "Mic", t("bulleted_list_item", "Shure SM7B")),
            t("bulleted_list_item", "Lights"),
            t("numbered_list_item", "Open OBS"),
            t("numbered_list_item", "Start stream"),
            t("to_do", "Backup VODs", checked=True),
            t("heading_2", "FAQ"),
            t("toggle", "What games?", t("paragraph", "Mostly Factorio and Celeste.")),
            b("code", rich_text=[rt("print('hi')")], language="python"),
            t("quote", "Be kind in chat."),
            b("callout", rich_text=[rt("Schedule may change")], icon={"emoji": "💡"}),
            b("divider"),
            b(
                "table",
                b("table_row", cells=[[rt("Day")], [rt("Time")]]),
                b("table_row", cells=[[rt("Tue")], [rt("8pm")]]),
                table_width=2,
                has_column_header=True,
            ),
            t("heading_3", "Deep"),
            t("paragraph", "#1 rule: hydrate"),
            b("child_page", id=CHILD, title="Gear"),
        ],
    )
    fake.add_page(
        CHILD,
        "Gear",
        [t("paragraph", "Gear list"), b("child_page", id=GRANDCHILD, title="Cables")],
    )
    fake.add_page(GRANDCHILD, "Cables", [t("paragraph", "XLR cables")])


def schedule_database(fake: FakeNotion) -> None:
    fake.add_database(DB, "Schedule")
    for row_id, day, time in zip(
        ROWS, ["Tuesday", "Friday", "Sunday"], ["8pm", "9pm", ""], strict=True
    ):
        props = {
            "Day": {"id": "d", "type": "select", "select": {"name": day}},
            "Time": {"id": "t", "type": "rich_text", "rich_text": [rt(time)] if time else []},
            "Games": {
                "id": "g",
                "type": "multi_select",
                "multi_select": [{"name": "Factorio"}, {"name": "Celeste"}],
            },
            "Collab": {"id": "c", "type": "checkbox", "checkbox": day == "Friday"},
            "Edited by": {"id": "e", "type": "last_edited_by", "last_edited_by": {"id": "u"}},
        }
        blocks = [fake.text_block("paragraph", "Bring snacks")] if day == "Tuesday" else []
        fake.add_page(row_id, f"{day} stream", blocks, properties=props, parent_database=DB)


def page_source(base: str, **kwargs) -> NotionPageSource:
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("clock", lambda: LATER)
    return NotionPageSource(ROOT, token=TOKEN, base_url=base, **kwargs)


def docs(results) -> dict:
    return {r.doc_id: r.document for r in results if isinstance(r, Fetched)}


@pytest.mark.parametrize(
    "link",
    [
        "1" * 32,
        ROOT,
        f"https://www.notion.so/myspace/Stream-Notes-{'1' * 32}",
        f"https://www.notion.so/{'1' * 32}?pvs=4",
        f"https://myspace.notion.site/Stream-Notes-{'1' * 32}",
        f"https://www.notion.so/myspace/{'1' * 32}?v={'9' * 32}",
        f"https://www.notion.so/myspace/{'9' * 32}?v={'8' * 32}&p={'1' * 32}&pm=s",
    ],
)
def test_notion_id_from_links(link: str) -> None:
    assert parse_notion_id(link) == ROOT


def test_bad_notion_links() -> None:
    with pytest.raises(ValueError, match="neither a Notion link"):
        parse_notion_id("https://example.com/page-" + "1" * 32)
    with pytest.raises(ValueError, match="No Notion page id"):
        parse_notion_id("https://www.notion.so/myspace/Just-A-Title")


async def test_page_tree_paginated_nested_and_child_pages(serve, client) -> None:
    fake = FakeNotion(page_size=2)
    page_tree(fake)
    base = await serve(fake.app())
    state: dict = {}
    results = await collect(page_source(base), client, state)

    assert all(isinstance(r, Fetched) for r in results), results
    by_id = docs(results)
    assert list(by_id) == [notion_url(ROOT), notion_url(CHILD), notion_url(GRANDCHILD)]
    root = by_id[notion_url(ROOT)]
    assert root.title == "Stream Notes"
    assert root.url.startswith("https://www.notion.so/Stream-Notes-")
    expected = """# Stream Notes

## Setup

Camera is **Sony**, *mostly* at `1080p60`; buy [merch](https://shop.example/merch)

- Mic
  - Shure SM7B
- Lights

1. Open OBS
2. Start stream

- [x] Backup VODs

### FAQ

What games?

Mostly Factorio and Celeste.

```python
print('hi')
```

> Be kind in chat.

> 💡 Schedule may change

---

| Day | Time |
| --- | --- |
| Tue | 8pm |

#### Deep

\\#1 rule: hydrate

Page: [Gear](https://www.notion.so/22222222222222222222222222222222)"""
    assert root.text == expected
    assert by_id[notion_url(CHILD)].text.startswith("# Gear\n\nGear list")
    assert by_id[notion_url(GRANDCHILD)].text == "# Cables\n\nXLR cables"

    # The root's children came in pages of 2, following next_cursor.
    root_cursors = [c for m, p, c in fake.requests if p == f"/v1/blocks/{ROOT}/children"]
    assert root_cursors[:3] == ["", "cur-2", "cur-4"] and len(root_cursors) == 9
    assert fake.versions == {NOTION_VERSION}
    assert state[notion_url(CHILD)]["children"] == [["page", GRANDCHILD]]


async def test_follow_child_pages_off(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    base = await serve(fake.app())
    results = await collect(page_source(base, follow_child_pages=False), client)
    assert list(docs(results)) == [notion_url(ROOT)]


async def test_database_rows_with_two_query_pages(serve, client) -> None:
    fake = FakeNotion(page_size=2)
    schedule_database(fake)
    base = await serve(fake.app())
    source = NotionDatabaseSource(
        f"https://www.notion.so/myspace/{DB.replace('-', '')}?v={'9' * 32}",
        token=TOKEN,
        base_url=base,
        sleep=Sleeps(),
        clock=lambda: LATER,
    )
    results = await collect(source, client)

    by_id = docs(results)
    assert list(by_id) == [notion_url(r) for r in ROWS]
    tuesday = by_id[notion_url(ROWS[0])]
    assert tuesday.title == "Tuesday stream"
    assert tuesday.metadata == {"database": "Schedule"}
    assert tuesday.text == (
        "# Tuesday stream\n\n"
        "Database: Schedule\nDay: Tuesday\nTime: 8pm\nGames: Factorio, Celeste\nCollab: No\n\n"
        "Bring snacks"
    )
    assert "Collab: Yes" in by_id[notion_url(ROWS[1])].text
    assert "Time:" not in by_id[notion_url(ROWS[2])].text
    query_cursors = [c for m, p, c in fake.requests if p == f"/v1/databases/{DB}/query"]
    assert query_cursors == ["", "cur-2"]


async def test_child_database_inside_a_page_is_followed(serve, client) -> None:
    fake = FakeNotion()
    schedule_database(fake)
    fake.add_page(ROOT, "Home", [fake.block("child_database", id=DB, title="Schedule")])
    base = await serve(fake.app())
    results = await collect(page_source(base), client)
    assert list(docs(results)) == [notion_url(ROOT), *(notion_url(r) for r in ROWS)]
    assert "Database: Schedule" in docs(results)[notion_url(ROOT)].text


async def test_429_honours_retry_after_then_succeeds(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    fake.fail_first[f"/v1/pages/{ROOT}"] = [
        web.json_response({"code": "rate_limited"}, status=429, headers={"Retry-After": "3"})
    ]
    base = await serve(fake.app())
    sleeps = Sleeps()
    results = await collect(page_source(base, sleep=sleeps), client)
    assert sleeps.delays == [3.0]
    assert len(docs(results)) == 3


async def test_5xx_retries_with_backoff(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    fake.fail_first[f"/v1/blocks/{CHILD}/children"] = [
        web.Response(status=502),
        web.Response(status=503),
    ]
    base = await serve(fake.app())
    sleeps = Sleeps()
    results = await collect(page_source(base, sleep=sleeps), client)
    assert sleeps.delays == [1.0, 2.0]
    assert len(docs(results)) == 3


async def test_rate_limit_that_never_ends_fails_the_source(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    fake.fail_first[f"/v1/pages/{ROOT}"] = [
        web.json_response({}, status=429, headers={"Retry-After": "1"}) for _ in range(10)
    ]
    base = await serve(fake.app())
    sleeps = Sleeps()
    [result] = await collect(page_source(base, sleep=sleeps, max_retries=2), client)
    assert isinstance(result, SourceFailed) and "rate limiting" in result.reason
    assert sleeps.delays == [1.0, 1.0]


async def test_expired_token_fails_the_whole_source(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    base = await serve(fake.app())
    source = NotionPageSource(ROOT, token="secret_expired", base_url=base, sleep=Sleeps())
    results = await collect(source, client)
    assert len(results) == 1 and isinstance(results[0], SourceFailed)
    assert "401" in results[0].reason and "expired" in results[0].reason


async def test_root_not_found_fails_the_source(serve, client) -> None:
    fake = FakeNotion()
    base = await serve(fake.app())
    [result] = await collect(page_source(base), client)
    assert isinstance(result, SourceFailed) and "404" in result.reason
    assert "Connections" in result.reason


async def test_a_failed_child_page_blocks_deletion(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    del fake.children[CHILD]  # its blocks 404 now: the grandchild is unknown this run
    base = await serve(fake.app())
    run = SourceRun()
    results = [r async for batch in run.batches(page_source(base).fetch(client, {})) for r in batch]

    assert isinstance(results[-1], SourceFailed)
    failure = next(r for r in results if isinstance(r, LoadFailure))
    assert failure.doc_id == notion_url(CHILD) and "404" in failure.reason
    assert not run.complete
    assert run.deleted_ids([notion_url(GRANDCHILD), "https://www.notion.so/gone"]) == frozenset()


async def test_last_edited_time_gives_unchanged_without_reading_blocks(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    base = await serve(fake.app())
    state: dict = {}
    await collect(page_source(base), client, state)
    fake.requests.clear()

    second = await collect(page_source(base), client, state)
    assert second == [
        Unchanged(notion_url(ROOT)),
        Unchanged(notion_url(CHILD)),
        Unchanged(notion_url(GRANDCHILD)),
    ]
    assert not [p for _, p, _ in fake.requests if "/blocks/" in p]

    fake.pages[CHILD]["last_edited_time"] = "2024-05-01T12:05:00.000Z"
    fake.children[CHILD][0] = fake.text_block("paragraph", "New gear list")
    third = await collect(page_source(base), client, state)
    assert isinstance(third[0], Unchanged) and isinstance(third[2], Unchanged)
    assert isinstance(third[1], Fetched) and "New gear list" in third[1].document.text


async def test_a_marker_from_the_same_minute_is_not_trusted(serve, client) -> None:
    fake = FakeNotion()
    fake.add_page(ROOT, "Home", [fake.text_block("paragraph", "v1")])
    base = await serve(fake.app())
    state: dict = {}
    soon = datetime.fromisoformat(EDITED) + timedelta(seconds=30)
    await collect(page_source(base, clock=lambda: soon), client, state)
    fake.children[ROOT] = [fake.text_block("paragraph", "v2")]  # same minute: same marker
    [again] = await collect(page_source(base, clock=lambda: soon), client, state)
    assert isinstance(again, Fetched) and "v2" in again.document.text


async def test_archived_child_page_is_not_listed_so_it_can_be_deleted(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    fake.pages[CHILD]["archived"] = True
    base = await serve(fake.app())
    run = SourceRun()
    async for _ in run.batches(page_source(base).fetch(client, {})):
        pass
    assert run.complete
    assert run.deleted_ids([notion_url(ROOT), notion_url(CHILD)]) == {notion_url(CHILD)}


def test_property_rendering() -> None:
    assert property_text({"type": "number", "number": 3.0}) == "3"
    assert property_text({"type": "date", "date": {"start": "2024-05-01", "end": None}}) == (
        "2024-05-01"
    )
    assert property_text({"type": "checkbox", "checkbox": False}) == "No"
    assert (
        property_text({"type": "formula", "formula": {"type": "string", "string": "8pm CET"}})
        == "8pm CET"
    )
    assert property_text({"type": "unique_id", "unique_id": {"prefix": "EP", "number": 7}}) == (
        "EP-7"
    )
    assert property_text({"type": "relation", "relation": [{"id": "x"}]}) == ""


def test_unknown_and_media_blocks_render_safely() -> None:
    blocks = [
        {"type": "image", "image": {"caption": [rt("Stream setup photo")]}},
        {"type": "bookmark", "bookmark": {"url": "https://example.com", "caption": []}},
        {"type": "equation", "equation": {"expression": "e=mc^2"}},
        {"type": "mystery_block", "mystery_block": {"rich_text": [rt("still text")]}},
        {"type": "unsupported", "unsupported": {}},
    ]
    assert blocks_to_markdown(blocks) == (
        "Stream setup photo\n\n[https://example.com](https://example.com)\n\n"
        "$$\ne=mc^2\n$$\n\nstill text"
    )


async def test_limits_on_blocks_and_pages(serve, client) -> None:
    fake = FakeNotion()
    page_tree(fake)
    base = await serve(fake.app())
    [first] = await collect(page_source(base, max_blocks_per_page=3), client)
    assert isinstance(first, Fetched)
    assert first.document.text.startswith("# Stream Notes\n\n## Setup\n\nCamera is **Sony**")
    assert "Shure SM7B" not in first.document.text  # the budget ran out before nested blocks
    two = await collect(page_source(base, max_pages=2), client)
    assert list(docs(two)) == [notion_url(ROOT), notion_url(CHILD)]

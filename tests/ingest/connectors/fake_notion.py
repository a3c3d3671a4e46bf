"""A small in-memory Notion API (the endpoints the connector uses), served by aiohttp."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

TOKEN = "secret_ntn_TestToken0123456789abcdef"
EDITED = "2024-05-01T12:00:00.000Z"


def rt(text: str, *, href: str | None = None, **annotations: bool) -> dict[str, Any]:
    ann = {"bold": False, "italic": False, "strikethrough": False, "underline": False,
           "code": False, "color": "default", **annotations}  # fmt: skip
    link = {"url": href} if href else None
    return {
        "type": "text",
        "text": {"content": text, "link": link},
        "annotations": ann,
        "plain_text": text,
        "href": href,
    }


def dashed(hex32: str) -> str:
    return str(uuid.UUID(hex32))


class FakeNotion:
    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self.pages: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[dict[str, Any]]] = {}
        self.databases: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str]] = []  # method, path, cursor
        self.fail_first: dict[str, list[web.Response]] = {}  # path -> responses to send first
        self.versions: set[str] = set()

    # --- building content ---
    def block(self, kind: str, *children: dict[str, Any], **data: Any) -> dict[str, Any]:
        block_id = str(uuid.uuid4())
        if kind in ("child_page", "child_database"):
            block_id = data.pop("id")
        if children:
            self.children[block_id] = list(children)
        return {
            "object": "block",
            "id": block_id,
            "type": kind,
            kind: data,
            "has_children": bool(children) or kind == "child_page",
        }

    def text_block(self, kind: str, text: str, *children: dict[str, Any], **data: Any) -> dict:
        return self.block(kind, *children, rich_text=[rt(text)], **data)

    def add_page(
        self,
        page_id: str,
        title: str,
        blocks: list[dict[str, Any]],
        *,
        edited: str = EDITED,
        properties: dict[str, Any] | None = None,
        parent_database: str | None = None,
    ) -> dict[str, Any]:
        props = {"title": {"id": "title", "type": "title", "title": [rt(title)]}}
        if properties is not None:
            props = {"Name": {"id": "title", "type": "title", "title": [rt(title)]}, **properties}
        page = {
            "object": "page",
            "id": page_id,
            "last_edited_time": edited,
            "archived": False,
            "in_trash": False,
            "url": f"https://www.notion.so/{title.replace(' ', '-')}-{page_id.replace('-', '')}",
            "properties": props,
        }
        self.pages[page_id] = page
        self.children[page_id] = blocks
        if parent_database:
            self.databases[parent_database]["rows"].append(page)
        return page

    def add_database(self, db_id: str, title: str) -> None:
        self.databases[db_id] = {
            "object": "database",
            "id": db_id,
            "title": [rt(title)],
            "rows": [],
        }

    # --- serving ---
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/v1/pages/{id}", self._page)
        app.router.add_get("/v1/blocks/{id}/children", self._children)
        app.router.add_get("/v1/databases/{id}", self._database)
        app.router.add_post("/v1/databases/{id}/query", self._query)
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        cursor = request.query.get("start_cursor", "")
        if request.method == "POST" and request.can_read_body:
            cursor = (await request.json()).get("start_cursor") or ""
        self.requests.append((request.method, request.path, cursor))
        self.versions.add(request.headers.get("Notion-Version", ""))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _error(401, "unauthorized", "API token is invalid.")
        queued = self.fail_first.get(request.path)
        if queued:
            return queued.pop(0)
        return await handler(request)

    async def _page(self, request: web.Request) -> web.Response:
        page = self.pages.get(request.match_info["id"])
        if page is None:
            return _error(404, "object_not_found", "Could not find page.")
        return web.json_response(page)

    async def _children(self, request: web.Request) -> web.Response:
        block_id = request.match_info["id"]
        if block_id not in self.children:
            return _error(404, "object_not_found", "Could not find block.")
        size = min(int(request.query.get("page_size", 100)), self.page_size)
        return web.json_response(
            self._paginate(self.children[block_id], request.query.get("start_cursor"), size)
        )

    async def _database(self, request: web.Request) -> web.Response:
        db = self.databases.get(request.match_info["id"])
        if db is None:
            return _error(404, "object_not_found", "Could not find database.")
        return web.json_response({k: v for k, v in db.items() if k != "rows"})

    async def _query(self, request: web.Request) -> web.Response:
        db = self.databases.get(request.match_info["id"])
        if db is None:
            return _error(404, "object_not_found", "Could not find database.")
        body = await request.json()
        size = min(int(body.get("page_size", 100)), self.page_size)
        return web.json_response(self._paginate(db["rows"], body.get("start_cursor"), size))

    @staticmethod
    def _paginate(items: list[Any], cursor: str | None, size: int) -> dict[str, Any]:
        start = int(cursor.removeprefix("cur-")) if cursor else 0
        chunk = items[start : start + size]
        more = start + size < len(items)
        return {
            "object": "list",
            "results": chunk,
            "has_more": more,
            "next_cursor": f"cur-{start + size}" if more else None,
        }


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"object": "error", "status": status, "code": code, "message": message}, status=status
    )

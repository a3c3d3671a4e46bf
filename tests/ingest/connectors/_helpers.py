"""Helpers shared by the connector tests."""

from __future__ import annotations

from typing import Any

import httpx

from ingest.connectors.base import FetchResult


async def collect(
    source: Any, client: httpx.AsyncClient, state: dict | None = None
) -> list[FetchResult]:
    state = {} if state is None else state
    return [result async for result in source.fetch(client, state)]


class Sleeps:
    """An injectable sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)

"""A loopback OpenAI-compatible chat-completions server for tests: real HTTP on 127.0.0.1.

`POST /v1/chat/completions`, with and without streaming (server-sent events, `data: [DONE]`,
a usage chunk when `stream_options.include_usage` asks for it). Replies are scripted, in order,
with `double.script(Reply(...), ...)`; when the script is empty, `double.responder(body)` makes
one (by default `grounded_reply`, a stand-in model that answers from the best passage).
Failures are replies too: a status with headers (429 with Retry-After, 500), a stall past the
client's timeout (before the reply or mid-stream), invalid JSON, an empty reply.

    async with LLMDouble() as llm:             # in the test's loop
        llm.script(Reply("PASSAGES: 1\\nThe intro was made in Sora 2 [1]."))
    with LLMDouble().in_thread() as llm:       # for code that runs its own loop (the CLI)
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    text: str = ""  # the assistant's message
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: str | None = None  # not streaming: sent as it is (invalid JSON), no completion
    stall_s: float = 0.0  # wait this long before the reply (or mid-stream, see stall_after)
    stall_after: int | None = None  # streaming: stall after this many content chunks
    malformed_after: int | None = None  # streaming: a data line that is not JSON after N chunks
    usage: tuple[int, int] | None = None  # (prompt, completion); None: counted from the text
    send_usage: bool = True
    no_choices: bool = False
    chunk_chars: int = 8  # streaming: characters per content chunk
    chunk_delay_s: float = 0.0


@dataclass
class Recorded:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() when it arrived

    @property
    def stream(self) -> bool:
        return bool(isinstance(self.body, dict) and self.body.get("stream"))

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.messages if m["role"] == "system"), "")

    @property
    def user(self) -> str:
        return next((m["content"] for m in self.messages if m["role"] == "user"), "")


_PASSAGE = re.compile(r'<passage number="(\d+)"[^>]*>\n(.*?)\n</passage>', re.DOTALL)
_QUESTION = re.compile(r"<question>\n(.*?)\n</question>", re.DOTALL)
_WORD = re.compile(r"[a-z0-9]{3,}")


def prompt_passages(user: str) -> dict[int, str]:
    """The numbered passages of a prompt our client built."""
    return {int(n): text for n, text in _PASSAGE.findall(user)}


def prompt_question(user: str) -> str:
    match = _QUESTION.search(user)
    return match[1] if match else ""


def grounded_reply(body: dict) -> Reply:
    """A stand-in model: the passage sharing most words with the question, its first sentence
    with a citation; NOT_IN_NOTES when no passage shares a word of four letters or more."""
    user = next((m["content"] for m in body.get("messages", []) if m["role"] == "user"), "")
    passages = prompt_passages(user)
    words = {w for w in _WORD.findall(prompt_question(user).lower()) if len(w) >= 4}
    scored = sorted(
        ((len(words & set(_WORD.findall(text.lower()))), -n, n) for n, text in passages.items()),
        reverse=True,
    )
    if not scored or scored[0][0] == 0:
        return Reply("NOT_IN_NOTES")
    number = scored[0][2]
    lines = [line.strip() for line in passages[number].splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")] or lines
    sentence = re.split(r"(?<=[.!?])\s", " ".join(lines))[0].rstrip(".!?")
    return Reply(f"PASSAGES: {number}\n{sentence} [{number}].")


class LLMDouble:
    def __init__(self, *, model: str = "double-model") -> None:
        self.model = model
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self.responder: Callable[[dict], Reply] = grounded_reply
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- scripting ------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def bodies(self) -> list[str]:
        """Every request body as the server received it, as text."""
        return [json.dumps(r.body, ensure_ascii=False) for r in self.requests]

    # -- running --------------------------------------------------------------------------
    async def start(self) -> LLMDouble:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LLMDouble:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[LLMDouble]:
        """Serve from a thread of its own (for code that runs asyncio.run itself)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=self._serve, args=(loop, ready), daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("the LLM double did not start")
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.close(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self.start())
        ready.set()
        loop.run_forever()

    # -- the endpoint ---------------------------------------------------------------------
    async def _completions(self, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        try:
            body: Any = json.loads(text)
        except json.JSONDecodeError:
            body = text
        self.requests.append(Recorded(request.path, dict(request.headers), body, time.monotonic()))
        if not isinstance(body, dict) or "messages" not in body:
            return web.json_response({"error": {"message": "bad request"}}, status=400)
        reply = self._script.popleft() if self._script else self.responder(body)
        if reply.stall_s and reply.stall_after is None:
            await asyncio.sleep(reply.stall_s)
        if reply.status != 200:
            return web.json_response(
                {"error": {"message": f"scripted {reply.status}", "type": "scripted"}},
                status=reply.status,
                headers=reply.headers,
            )
        if reply.raw_body is not None and not body.get("stream"):
            return web.Response(text=reply.raw_body, content_type="application/json")
        usage = self._usage(body, reply)
        if body.get("stream"):
            return await self._stream(request, body, reply, usage)
        choices = [] if reply.no_choices else [self._choice(reply.text)]
        return web.json_response(
            {
                "id": "chatcmpl-double",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": choices,
                **({"usage": usage} if reply.send_usage else {}),
            }
        )

    @staticmethod
    def _choice(text: str) -> dict:
        return {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }

    @staticmethod
    def _usage(body: dict, reply: Reply) -> dict:
        if reply.usage is not None:
            prompt, completion = reply.usage
        else:
            prompt = sum(len(m.get("content", "")) for m in body["messages"]) // 4
            completion = len(reply.text) // 4
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    async def _stream(
        self, request: web.Request, body: dict, reply: Reply, usage: dict
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> bytes:
            payload = {
                "id": "chatcmpl-double",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": []
                if reply.no_choices
                else [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        try:
            await response.write(chunk({"role": "assistant", "content": ""}))
            pieces = [
                reply.text[i : i + reply.chunk_chars]
                for i in range(0, len(reply.text), reply.chunk_chars)
            ]
            for n, piece in enumerate(pieces):
                if reply.stall_after is not None and n == reply.stall_after:
                    await asyncio.sleep(reply.stall_s)
                if reply.malformed_after is not None and n == reply.malformed_after:
                    await response.write(b'data: {"choices": [{"delta": {"content": "oops"\n\n')
                await response.write(chunk({"content": piece}))
                if reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
            await response.write(chunk({}, "stop"))
            include = (body.get("stream_options") or {}).get("include_usage")
            if include and reply.send_usage:
                payload = {
                    "id": "chatcmpl-double",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }
                await response.write(f"data: {json.dumps(payload)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            return response  # the client gave up (its timeout): nothing more to send
        return response

"""A tiny HTTP server on 127.0.0.1 that misbehaves in every way a clip link can."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML = b"<!doctype html><html><body>Sign in to view this file</body></html>"
# Responses above this are "too big" in the tests; the valid clips are well under it.
TEST_MAX_BYTES = 200_000


@dataclass(frozen=True)
class ClipServer:
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ClipHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()  # the client may hang up on purpose (too big, timed out)

    def _route(self) -> None:
        path = self.path
        mp4, webm = self.server.mp4, self.server.webm
        if path == "/clip.mp4":
            self._send(200, "video/mp4", mp4)
        elif path == "/clip.webm":
            self._send(200, "video/webm; charset=binary", webm)
        elif path == "/download?id=7":
            self._send(200, "application/octet-stream", mp4)
        elif path == "/no-type":
            self._send(200, None, mp4)
        elif path == "/page.html":
            self._send(200, "text/html; charset=utf-8", HTML)
        elif path == "/html-as-video":
            self._send(200, "video/mp4", HTML)
        elif path == "/html-as-octet":
            self._send(200, "application/octet-stream", HTML)
        elif path == "/image.png":
            self._send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
        elif path == "/missing":
            self._send(404, "text/plain", b"not found")
        elif path == "/gone":
            self._send(410, "text/plain", b"gone")
        elif path == "/broken":
            self._send(503, "text/plain", b"try later")
        elif path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(327_155_712))  # 312 MB
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(mp4[:1024])  # then hang up: a client must not read on
            self.close_connection = True
        elif path == "/big-chunked":
            self._send_chunked_forever(mp4)
        elif path == "/slow-headers":
            time.sleep(2.0)
            self._send(200, "video/mp4", mp4)
        elif path == "/trickle":
            self._trickle(mp4)
        elif path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            self._redirect(f"/redirect/{left - 1}" if left > 0 else "/clip.mp4")
        elif path == "/relative-redirect":
            self._redirect("clip.mp4")
        elif path == "/loop":
            self._redirect("/loop")
        else:
            self._send(404, "text/plain", b"no such route")

    def _send(self, status: int, content_type: str | None, body: bytes) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_chunked_forever(self, head: bytes) -> None:
        """No Content-Length: the size limit can only be found while streaming."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = head[:4096] + b"\0" * (16_384 - len(head[:4096]))
        for _ in range(200):  # ~3 MB, far past the test limit
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _trickle(self, body: bytes) -> None:
        """Headers at once, then a byte every 50 ms: no read timeout ever fires."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body[:64])
        self.wfile.flush()
        deadline = time.monotonic() + 3.0
        for byte in body[64:]:
            if time.monotonic() > deadline:
                break
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.05)
        self.close_connection = True


class _ClipHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mp4: bytes, webm: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mp4 = mp4
        self.webm = webm

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hang up on purpose here (too big, too slow): that is not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve_clips(mp4: bytes, webm: bytes) -> Iterator[ClipServer]:
    server = _ClipHTTPServer(mp4, webm)
    thread = threading.Thread(target=server.serve_forever, name="clip-http", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield ClipServer(base_url=f"http://{host}:{port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

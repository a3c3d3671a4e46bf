"""A real Chroma server for tests: `chroma run` from the chromadb package in this venv, on a free
loopback port, which a test can kill, stop and start again (same data, same port).

Use the `chroma_server` fixture: one server per test module. Each test's own data directory
gets a database of its own on it (knowledge/vectors.py, `server_database`), so tests sharing
the server never see each other's collections.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start `chroma run` and wait until its heartbeat answers."""
        assert self.proc is None, "already running"
        argv = [CHROMA, "run", "--path", str(self.root / "data"), "--host", "127.0.0.1"]
        argv += ["--port", str(self.port)]
        with (self.root / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=os.environ | {"ANONYMIZED_TELEMETRY": "False"},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(kill=True)
                raise RuntimeError(f"chroma run did not start: {self.log_tail()}")
            time.sleep(0.05)

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (a clean stop) or SIGKILL (a crash), and wait for the process to end."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A Chroma server for the module; a test that stops it starts it again before it ends."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()

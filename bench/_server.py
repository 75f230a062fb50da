"""Start ``minsheng serve`` on a free loopback port for a benchmark, and stop it after."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(*extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The server's standard error goes to a temporary file (a pipe nobody reads would stop
    the server once full), shown if it does not start; ``SERVER_STDERR=1``: to ours."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "minsheng", "serve", "--host", "127.0.0.1", "--port", str(port),
             *extra],
            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("SERVER_STDERR") else log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if httpx2.get(f"{base}/api/v1/calculations", timeout=1).status_code == 200:
                        break
                except httpx2.TransportError:
                    time.sleep(0.1)
            else:
                log.seek(0)
                raise RuntimeError(f"server did not start: {log.read().decode(errors='replace')}")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)

"""The real server in tests: ``python -m minsheng serve`` as a subprocess on a free loopback
port, on the database its ``MINSHENG_DATABASE_URL`` names (pytest finds this module through
``pythonpath`` in pyproject.toml)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(database_url: str, cwd: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The server process and its base address once it answers; ``extra``: more ``serve``
    options. Its output goes to ``cwd/server-PORT.log`` (a pipe nobody reads would fill and
    stop it), shown if it does not start. A test may kill it; else it is stopped at the end."""
    port = free_port()
    log = cwd / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "minsheng", "serve", "--host", "127.0.0.1", "--port", str(port),
             *extra],
            env={**os.environ, "MINSHENG_DATABASE_URL": database_url}, cwd=cwd,
            stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start (exit {proc.poll()}): "
                                   f"{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _answers(base: str) -> bool:
    try:
        return httpx2.get(f"{base}/api/v1/calculations", timeout=1).status_code == 200
    except httpx2.TransportError:
        return False

"""A lean HTTP/1.1 keep-alive load generator (asyncio streams), so the client costs little."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import orjson


async def _one_connection(host: str, port: int, requests: list[bytes],
                          latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            t0 = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            statuses.append(int(status_line.split()[1]))
    finally:
        writer.close()


def request_bytes(method: str, url: str, body: Any = None,
                  headers: dict[str, str] | None = None) -> bytes:
    parts = urlsplit(url)
    payload = orjson.dumps(body) if body is not None else b""
    lines = [f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
             f"Host: {parts.hostname}:{parts.port}", "Connection: keep-alive",
             f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def load(url: str, request: bytes, concurrency: int, requests: int) -> dict[str, Any]:
    """Send one request ``requests`` times over ``concurrency`` connections."""
    return load_many(url, [request] * requests, concurrency)


def load_many(url: str, requests: list[bytes], concurrency: int) -> dict[str, Any]:
    """Send the requests over ``concurrency`` keep-alive connections; rate and latency."""
    parts = urlsplit(url)
    latencies: list[float] = []
    statuses: list[int] = []
    shares = [requests[i::concurrency] for i in range(concurrency)]

    async def go() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(_one_connection(parts.hostname or "127.0.0.1", parts.port or 80,
                                               share, latencies, statuses) for share in shares))
        return time.perf_counter() - start

    elapsed = asyncio.run(go())
    latencies.sort()
    return {"concurrency": concurrency, "requests": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed),
            "p50_ms": round(statistics.median(latencies) * 1e3, 2),
            "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1e3, 2),
            "errors": sum(1 for s in statuses if s >= 400)}

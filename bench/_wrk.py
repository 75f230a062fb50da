"""Load with ``wrk`` (Debian package ``wrk``) when it is installed: a C client costs the server's
cores far less than a Python one, which matters on a 2-core machine."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import orjson

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def available() -> bool:
    return shutil.which("wrk") is not None


def load(url: str, body: Any, concurrency: int, seconds: int = 8) -> dict[str, Any]:
    """POST ``body`` as JSON for ``seconds`` over ``concurrency`` connections."""
    script = ("wrk.method = 'POST'\n"
              f"wrk.body = [[{orjson.dumps(body).decode()}]]\n"
              "wrk.headers['Content-Type'] = 'application/json'\n")
    return run_script(url, script, concurrency, seconds)


def run_script(url: str, script: str, concurrency: int, seconds: int = 8) -> dict[str, Any]:
    """Run wrk with a Lua ``script`` (e.g. one whose ``request()`` makes each body anew)."""
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "post.lua"
        lua.write_text(script)
        threads = 1  # one load thread: the server keeps both cores
        done = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s",
                               "--latency", "-s", str(lua), url],
                              capture_output=True, text=True, check=True, timeout=seconds + 30)
    text = done.stdout
    lat: dict[str, float] = {}
    for p in ("50", "99"):
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if m:
            lat[p] = _ms(m.group(1), m.group(2))
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    found = {"client": "wrk", "concurrency": concurrency, "requests": total,
             "requests_per_s": round(rate), "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
             "errors": int(errors.group(1)) if errors else 0}
    scheduled = re.search(r"^SCHEDULED p50=([\d.]+) p99=([\d.]+) n=(\d+)$", text, re.M)
    if scheduled:  # a paced script's latencies counted from when each request was due
        found |= {"p50_ms": round(float(scheduled.group(1)), 2),
                  "p99_ms": round(float(scheduled.group(2)), 2),
                  "sent_p50_ms": lat.get("50"), "sent_p99_ms": lat.get("99"),
                  "scheduled_replies": int(scheduled.group(3))}
    return found


def _ms(value: str, unit: str) -> float:
    return round(float(value) * UNITS[unit], 2)

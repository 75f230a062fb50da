"""What every benchmark prints: one JSON line per measurement, with how fast the CPU was then.

This machine is a shared virtual machine: the same code runs up to twice as fast at one
time as at another (a fixed loop of pure Python was seen taking 0.33 s and 0.68 s a minute
apart). Each line therefore carries ``cpu_probe_ms``, the CPU time of a fixed piece of pure
Python measured as the line is printed: figures of different runs compare only together
with it (lower is a faster machine; about 50 ms on this one when it is fast; it is
measured after the run, so a slowdown during the run that has passed by then goes unseen).
"""

from __future__ import annotations

import json
import time

PROBE_LOOPS = 1_000_000


def cpu_probe_ms() -> float:
    """CPU milliseconds of :data:`PROBE_LOOPS` multiply-adds in pure Python, best of 3."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(PROBE_LOOPS):
            total += i * i
        best = min(best, time.process_time() - start)
    return round(best * 1e3, 1)


def emit(**fields: object) -> None:
    """Print one measurement as a JSON line, with ``cpu_probe_ms``."""
    print(json.dumps({**fields, "cpu_probe_ms": cpu_probe_ms()}, ensure_ascii=False), flush=True)

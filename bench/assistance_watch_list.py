"""How fast the settlement kernel can ask for a person-year's watch-list status.

Prints one JSON line per setting: calls per second of ``watch_list_status`` with and
without a trace (the kernel uses no trace in bulk).

    .venv/bin/python bench/assistance_watch_list.py
"""

from __future__ import annotations

import datetime as dt
import random
import time

import orjson

from minsheng.core.calculation import Context
from minsheng.core.parameters import ParameterView, default_store
from minsheng.core.regions import get_region
from minsheng.core.trace import NullTrace, Trace
from minsheng.rules.assistance import watch_list_status

CATEGORY_SETS = [(), ("minimum_allowance",), ("lifted_from_poverty",), ("orphan", "monitored")]


def main(n: int = 50_000) -> None:
    rng = random.Random(7)
    cases = [(rng.choice(CATEGORY_SETS), rng.randrange(0, 3_000_000)) for _ in range(n)]
    view = ParameterView(default_store())
    region = get_region("140105")
    day = dt.date(2023, 6, 30)
    for traced in (False, True):
        t0 = time.perf_counter()
        for categories, burden in cases:
            ctx = Context(day, region, view, Trace() if traced else NullTrace())
            watch_list_status(ctx, categories, burden)
        elapsed = time.perf_counter() - t0
        print(orjson.dumps({"bench": "watch_list_status", "traced": traced, "calls": n,
                            "seconds": round(elapsed, 3),
                            "calls_per_second": round(n / elapsed)}).decode())


if __name__ == "__main__":
    main()

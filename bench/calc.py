"""Benchmark: one calculation in process, and over HTTP at concurrency 1 and 16.

Prints one JSON line per measurement. Usage: ``python bench/calc.py [--requests N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _wrk
from _load import load, request_bytes
from _report import emit
from _server import running_server
from minsheng.core.calculation import run

CASES = [
    ("resident_fiscal_subsidy", "2021-06-01", "222426", {}),
    ("employee_contribution_base", "2023-09-01", "220102", {"monthly_wage": "8000.00"}),
    ("flexible_employment_contribution", "2023-09-01", "220102", {"mode": "single"}),
]


def in_process(n: int) -> None:
    for name, date, region, inputs in CASES:
        run(name, date=date, region=region, inputs=inputs)
        for with_json in (False, True):
            start = time.perf_counter()
            for _ in range(n):
                result = run(name, date=date, region=region, inputs=inputs)
                if with_json:
                    result.to_json()
            us = (time.perf_counter() - start) / n * 1e6
            emit(bench="calc_in_process", calculation=name, with_json=with_json, runs=n,
                 us_per_calculation=round(us, 1))


def over_http(base: str, concurrency: int, requests: int, client: str) -> None:
    name, date, region, inputs = CASES[0]
    url = f"{base}/api/v1/calculations/{name}"
    body = {"date": date, "region": region, "inputs": inputs}
    request = request_bytes("POST", url, body)
    load(url, request, concurrency, 100)  # warm up
    if client == "wrk":
        emit(bench="calc_http", calculation=name, **_wrk.load(url, body, concurrency))
    else:
        emit(bench="calc_http", calculation=name, client="python",
             **load(url, request, concurrency, requests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=3200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk when installed (auto), else asyncio")
    args = parser.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if _wrk.available() else "python")
    in_process(args.runs)
    with running_server("--workers", str(args.workers)) as base:
        for concurrency in (1, 16):
            over_http(base, concurrency, args.requests, client)


if __name__ == "__main__":
    main()

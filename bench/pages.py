"""Benchmark: the calculator pages over HTTP (form shown, form posted, HTMX partial posted).

Prints one JSON line per measurement. Usage: ``python bench/pages.py [--requests N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).parent))
from _load import load
from _report import emit
from _server import running_server

PAGE = "/calculators/resident_fiscal_subsidy"
FORM = {"date": "2021-06-01", "region": "222426"}


def raw_request(method: str, url: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> bytes:
    parts = urlsplit(url)
    body = urlencode(form).encode() if form is not None else b""
    lines = [f"{method} {parts.path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
             "Connection: keep-alive", f"Content-Length: {len(body)}"]
    if form is not None:
        lines.append("Content-Type: application/x-www-form-urlencoded")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with running_server() as base:
        url = base + PAGE
        cases = {
            "page_form": raw_request("GET", url),
            "page_post": raw_request("POST", url, FORM),
            "page_post_htmx": raw_request("POST", url, FORM, {"HX-Request": "true"}),
        }
        for name, request in cases.items():
            load(url, request, 1, 50)  # warm up
            for concurrency in (1, 16):
                emit(bench=name, path=PAGE, **load(url, request, concurrency, args.requests))


if __name__ == "__main__":
    main()

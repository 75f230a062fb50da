"""Benchmark: the pages behind a login, in process (FastAPI's test client, SQLite file).

A database with ``--persons`` persons of 长春市南关区 (one in three holding 低保) and two
settlements each; then each page is requested ``--requests`` times by a logged-in citizen,
agency staff member or analyst. Prints one JSON line per page (milliseconds per request).
Usage: ``python bench/logged_in_pages.py [--persons N] [--requests N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from _report import emit
from minsheng.api.app import create_app
from minsheng.api.deps import STATE_KEY
from minsheng.core.resident_id import make_certno
from minsheng.service import persons, settlements
from minsheng.service.auth import SYSTEM, create_token
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork, factory


def fill(db: Database, n: int) -> None:
    uow = factory(db)
    for i in range(n):
        psn_no = f"BENCH-{i:05d}"
        persons.create_person(uow(write=True), SYSTEM, {
            "psn_no": psn_no, "insutype": "390", "region": "220102", "psn_name": f"参保人{i}",
            "certno": make_certno("220102", dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28), i % 1000),
            "categories": ["minimum_allowance"] if i % 3 == 0 else []})
        for k, month in enumerate((3, 9)):
            settlements.settle(uow, SYSTEM, {
                "setl_id": f"{psn_no}-{k}", "psn_no": psn_no, "setl_time": f"2023-{month:02d}-10T09:00:00",
                "med_type": "21", "hosp_lv": 2, "in_province": True, "medfee_sumamt": "12000.00",
                "fulamt_ownpay_amt": "300.00", "preselfpay_amt": "800.00", "overlmt_selfpay": "0.00"})


def logged_in(app: Any, db: Database, role: str, region: str | None = None,
              psn_no: str | None = None) -> TestClient:
    with UnitOfWork(db, write=True) as uow:
        _, secret = create_token(uow, role, region=region, psn_no=psn_no, label="bench")
        uow.commit()
    c = TestClient(app)
    form = c.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    c.post("/login", data={"csrf_token": csrf.group(1), "token": secret}, follow_redirects=False)
    return c


def measure(c: TestClient, path: str, n: int) -> dict[str, float]:
    assert c.get(path).status_code == 200, path
    times = []
    for _ in range(n):
        start = time.perf_counter()
        c.get(path)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (n - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        db.migrate()
        start = time.perf_counter()
        fill(db, args.persons)
        emit(bench="logged_in_pages_setup", persons=args.persons, settlements=2 * args.persons,
             seconds=round(time.perf_counter() - start, 2))
        app = create_app()
        setattr(app.state, STATE_KEY, db)
        citizen = logged_in(app, db, "citizen", psn_no="BENCH-00000")
        agency = logged_in(app, db, "agency", "220100")
        for who, client, path in (
                ("citizen", citizen, "/me?year=2023"),
                ("citizen", citizen, "/me/statements/BENCH-00000-1"),
                ("agency", agency, "/agency"),
                ("agency", agency, "/agency/persons?q=BENCH-000"),
                ("agency", agency, "/agency/persons"),
                ("agency", agency, "/agency/persons/BENCH-00003?year=2023"),
                ("agency", agency, "/agency/transfers")):
            emit(bench="logged_in_page", role=who, page=path, persons=args.persons,
                 requests=args.requests, **measure(client, path, args.requests))
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())

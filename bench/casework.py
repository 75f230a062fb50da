"""Benchmark: what casework adds to a settlement, and how long a watch list takes.

In process, on a fresh SQLite file (and PostgreSQL when reachable): settles claims one by one
through :func:`minsheng.service.settlements.settle` — plain, for care outside the insured
city with a filing (the remote-care route), and ordinary outpatient claims of persons with a
chronic-disease recognition (settled as 14) — then computes the watch list of every person.
Prints one JSON line per measurement::

    {"bench": "casework_settle", "backend": "sqlite", "kind": "remote_filed", "claims": 300,
     "claims_per_s": ..., "mean_ms": ...}
    {"bench": "casework_watch_list", "backend": "sqlite", "persons": 300, "ms": ...}

Usage: ``python bench/casework.py [--claims N] [--backends sqlite,postgres]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _report import emit
from minsheng.service import persons, settlements
from minsheng.service.auth import SYSTEM
from minsheng.service.casework import filings, recognitions, watch_lists
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork, factory

PG_URL = os.environ.get("MINSHENG_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def claim(psn_no: str, med_type: str, **extra: Any) -> dict[str, Any]:
    return {"setl_id": uuid.uuid4().hex[:20], "psn_no": psn_no,
            "setl_time": "2023-09-10T10:00:00", "med_type": med_type, "hosp_lv": 2,
            "in_province": True, "medfee_sumamt": "3000.00", "fulamt_ownpay_amt": "500.00",
            "preselfpay_amt": "0.00", "overlmt_selfpay": "0.00", **extra}


def person(db: Database, region: str) -> str:
    psn_no = "B" + uuid.uuid4().hex[:12]
    persons.create_person(UnitOfWork(db, write=True), SYSTEM,
                          {"psn_no": psn_no, "insutype": "390", "region": region,
                           "categories": ["minimum_allowance"]})
    return psn_no


def measure(db: Database, backend: str, kind: str, bodies: list[dict[str, Any]]) -> None:
    uow = factory(db)
    start = time.perf_counter()
    for body in bodies:
        settlements.settle(uow, SYSTEM, body)
    took = time.perf_counter() - start
    emit(bench="casework_settle", backend=backend, kind=kind, claims=len(bodies),
         claims_per_s=round(len(bodies) / took, 1), mean_ms=round(took / len(bodies) * 1000, 2))


def run(backend: str, url: str, n: int) -> None:
    db = Database(url)
    db.migrate()
    people = [person(db, "220102") for _ in range(n)]
    taiyuan = [person(db, "140105") for _ in range(n)]
    for p in people:
        filings.create_filing(UnitOfWork(db, write=True), SYSTEM,
                              {"psn_no": p, "kind": "long_term_resident", "destination": "460000",
                               "filed_at": "2023-09-01T08:00:00"})
        recognitions.create_recognition(UnitOfWork(db, write=True), SYSTEM,
                                        {"psn_no": p, "kind": "chronic_disease", "disease": "糖尿病",
                                         "institution_region": "220102", "on": "2023-09-01"})
    for p in taiyuan[:5]:  # warm-up: parameters resolved and cached, connections opened
        settlements.settle(factory(db), SYSTEM, claim(p, "11", setl_time="2023-01-05T10:00:00"))
    measure(db, backend, "plain_inpatient",
            [claim(p, "21", medfee_sumamt="60000.00", fulamt_ownpay_amt="8000.00")
             for p in taiyuan])
    measure(db, backend, "remote_filed", [claim(p, "21", care_region="460100", in_province=False)
                                          for p in people])
    measure(db, backend, "outpatient_recognised", [claim(p, "11") for p in people])
    start = time.perf_counter()
    data = watch_lists.compute(UnitOfWork(db), SYSTEM, "2023-12-31", "140000")
    emit(bench="casework_watch_list", backend=backend, persons=len(taiyuan),
         listed=len(data["persons"]), ms=round((time.perf_counter() - start) * 1000, 1))
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            folder = Path(tempfile.mkdtemp())
            run("sqlite", f"sqlite:///{folder / 'bench.db'}", args.claims)
        elif backend == "postgres":
            import psycopg

            schema = "bench_" + uuid.uuid4().hex[:8]
            admin = PG_URL.replace("postgresql+psycopg", "postgresql")
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'CREATE SCHEMA "{schema}"')
            except psycopg.OperationalError as exc:
                emit(bench="casework_settle", backend="postgres", skipped=str(exc))
                continue
            try:
                run("postgres", f"{PG_URL}?options=-csearch_path%3D{schema}", args.claims)
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()

"""Kill -9 under load: every acknowledged settlement survives, and the accumulators equal
the sum of the settlements on record (nothing half-written).

The real server (``minsheng serve``) runs as a subprocess on a free port; clients settle
claims over HTTP until the server is killed with SIGKILL, then it is started again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from service_helpers import claim_body, person_body, token, uid

from minsheng.service.audit_trail import verify_chain
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork
from server_process import serving

pytestmark = pytest.mark.slow

CLIENTS = 8
PERSONS = 3


def test_every_acknowledged_settlement_survives_a_kill_9(
        server_database: tuple[str, Database], tmp_path: Path) -> None:
    url, db = server_database
    headers = token(db, "admin")
    people = [uid("P") for _ in range(PERSONS)]
    acknowledged: dict[str, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()

    with serving(url, tmp_path) as (proc, base):
        for psn_no in people:
            r = httpx2.post(f"{base}/api/v1/persons", json=person_body(
                psn_no, categories=["minimum_allowance"]), headers=headers)
            assert r.status_code == 201, r.text

        def load(i: int) -> None:
            with httpx2.Client(base_url=base, headers=headers, timeout=10) as c:
                n = 0
                while not stop.is_set():
                    claim = claim_body(f"S{i}-{n}-{uid()}", people[(i + n) % PERSONS],
                                       total="30000.00")
                    n += 1
                    try:
                        r = c.post("/api/v1/settlements", json=claim)
                    except httpx2.TransportError:
                        return
                    if r.status_code == 200:
                        with lock:
                            acknowledged[claim["setl_id"]] = r.content

        threads = [threading.Thread(target=load, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=20)
    assert len(acknowledged) >= 40

    with serving(url, tmp_path) as (_, base), \
            httpx2.Client(base_url=base, headers=headers, timeout=10) as c:
        for setl_id, body in acknowledged.items():
            r = c.get(f"/api/v1/settlements/{setl_id}")
            assert r.status_code == 200, setl_id
            assert r.json()["status"] == "settled"
            assert r.json()["outputs"] == httpx2.Response(200, content=body).json()
        totals: dict[str, Any] = {p: c.get(f"/api/v1/persons/{p}/accumulators",
                                           params={"year": 2023}).json() for p in people}
    with UnitOfWork(db) as uow:
        for psn_no in people:
            on_record = uow.settlements.for_person(psn_no, 2023)
            stored = uow.accumulators.get(psn_no, 2023)
            for name in ("medfee_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt"):
                assert stored[name] == sum(getattr(s, name) for s in on_record)
            assert totals[psn_no]["claims"] == len(on_record)
    assert verify_chain(UnitOfWork(db)).ok

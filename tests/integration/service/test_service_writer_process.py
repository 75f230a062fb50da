"""``minsheng serve`` settles in a writer process of its own (minsheng.service.writer_process).

The real server runs as a subprocess; its HTTP process hands each settlement to the writer
process and answers with what comes back — replies, replays and errors as the in-process
writer gives them. A writer process that dies is started again; one whose server is killed
dies with it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from service_helpers import claim_body, person_body, token, uid

from minsheng.cli.serve import DEFAULT_WRITERS
from minsheng.core.money import parse_fen
from minsheng.service.audit_trail import verify_chain
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.service.writer_process import shard_of
from server_process import serving

pytestmark = pytest.mark.slow


def writer_processes(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if b"minsheng.service.writer_process" in cmdline and (parent == 0 or ppid == parent):
            found.append(int(entry))
    return found


def gone(pid: int) -> bool:
    """Exited (a zombie until its parent, here killed, is reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@contextmanager
def serving_a_person(url: str, db: Database, folder: Path
                     ) -> Iterator[tuple[subprocess.Popen[bytes], httpx2.Client, str]]:
    """The real server, an admin's client of it and a registered 低保 person."""
    psn_no = uid("W")
    with serving(url, folder) as (proc, base), \
            httpx2.Client(base_url=base, headers=token(db, "admin"), timeout=20) as c:
        assert c.post("/api/v1/persons", json=person_body(
            psn_no, categories=["minimum_allowance"])).status_code == 201
        yield proc, c, psn_no


def test_the_writer_process_answers_as_the_service_does(
        server_database: tuple[str, Database], tmp_path: Path) -> None:
    url, db = server_database
    with serving_a_person(url, db, tmp_path) as (proc, c, psn_no):
        base = str(c.base_url).rstrip("/")
        assert len(writer_processes(proc.pid)) == DEFAULT_WRITERS  # one, pipelined on PostgreSQL
        claim = claim_body(uid("S"), psn_no, total="30000.00")

        first = c.post("/api/v1/settlements", json=claim)
        assert first.status_code == 200, first.text
        assert first.json()["maf_pay"] != "0.00"
        again = c.post("/api/v1/settlements", json=claim)
        assert (again.status_code, again.content) == (200, first.content)
        assert again.headers["Idempotent-Replay"] == "true"
        other = c.post("/api/v1/settlements", json={**claim, "medfee_sumamt": "25000.00"})
        assert other.status_code == 409 and other.json()["setl_id"] == claim["setl_id"]

        unknown = c.post("/api/v1/settlements", json={**claim_body(uid("S"), "NOBODY")})
        assert unknown.status_code == 422 and unknown.json()["field"] == "psn_no"
        bad = c.post("/api/v1/settlements", json={**claim_body(uid("S"), psn_no),
                                                  "hosp_lv": 9})
        assert bad.status_code == 422 and bad.json()["field"] == "hosp_lv"
        no_token = httpx2.post(f"{base}/api/v1/settlements", json=claim)
        assert no_token.status_code == 401 and no_token.headers["WWW-Authenticate"] == "Bearer"
        revoked = httpx2.post(f"{base}/api/v1/settlements", json=claim,
                             headers={"Authorization": "Bearer not-a-token"})
        assert revoked.status_code == 401 and revoked.headers["WWW-Authenticate"] == "Bearer"
        analyst = c.post("/api/v1/settlements", json=claim, headers=token(db, "analyst"))
        assert analyst.status_code == 403

        stored = c.get(f"/api/v1/settlements/{claim['setl_id']}").json()
        assert stored["outputs"] == first.json()


def test_a_writer_process_that_dies_is_started_again(
        server_database: tuple[str, Database], tmp_path: Path) -> None:
    url, db = server_database
    with serving_a_person(url, db, tmp_path) as (proc, c, psn_no):
        writers = writer_processes(proc.pid)
        for writer in writers:
            os.kill(writer, signal.SIGKILL)
        statuses = set()

        def settles() -> bool:
            r = c.post("/api/v1/settlements", json=claim_body(uid("S"), psn_no))
            statuses.add(r.status_code)
            return r.status_code == 200

        assert wait_for(settles, 60)
        assert statuses <= {200, 503}
        assert wait_for(lambda: len(writer_processes(proc.pid)) == len(writers))  # replaced
        assert not set(writers) & set(writer_processes(proc.pid))


def test_a_server_killed_with_sigkill_leaves_no_writer_behind(
        server_database: tuple[str, Database], tmp_path: Path) -> None:
    url, _ = server_database
    with serving(url, tmp_path, "--writers", "2") as (proc, _):
        writers = writer_processes(proc.pid)
        assert len(writers) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_for(lambda: all(gone(w) for w in writers), 10)


def test_two_writers_share_the_persons_and_a_setl_id_sent_for_two_of_them_at_once_is_settled_once(
        server_database: tuple[str, Database], tmp_path: Path) -> None:
    url, db = server_database
    headers = token(db, "admin")
    first = uid("W")
    second = next(p for p in (uid("W") for _ in range(100)) if shard_of(p, 2) != shard_of(first, 2))
    pairs = [uid("S") for _ in range(8)]
    with serving(url, tmp_path, "--writers", "2") as (proc, base):
        assert len(writer_processes(proc.pid)) == 2
        with httpx2.Client(base_url=base, headers=headers, timeout=30) as c:
            for psn_no in (first, second):
                assert c.post("/api/v1/persons", json=person_body(
                    psn_no, categories=["minimum_allowance"])).status_code == 201
        replies: dict[tuple[str, str], httpx2.Response] = {}

        def send(psn_no: str, start: threading.Barrier) -> None:
            with httpx2.Client(base_url=base, headers=headers, timeout=30) as c:
                for setl_id in pairs:
                    start.wait()  # both persons' claims of this setl_id leave together
                    replies[setl_id, psn_no] = c.post("/api/v1/settlements", json=claim_body(
                        setl_id, psn_no, total="30000.00"))

        start = threading.Barrier(2)
        threads = [threading.Thread(target=send, args=(p, start)) for p in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        settled: dict[str, list[dict[str, str]]] = {first: [], second: []}
        for setl_id in pairs:
            a, b = replies[setl_id, first], replies[setl_id, second]
            assert sorted((a.status_code, b.status_code)) == [200, 409], (a.text, b.text)
            won, lost = (a, b) if a.status_code == 200 else (b, a)
            assert lost.json()["setl_id"] == setl_id
            settled[won.json()["psn_no"]].append(won.json())
    with UnitOfWork(db) as uow:
        created = [e.entity_id for e in uow.audit.entries() if e.action == "settlement.created"]
        assert sorted(created) == sorted(pairs)  # each setl_id settled once
        for psn_no, bodies in settled.items():
            stored = uow.accumulators.get(psn_no, 2023)
            assert stored.get("maf_pay", 0) == sum(parse_fen(b["maf_pay"]) for b in bodies)
    assert verify_chain(UnitOfWork(db)).ok

"""Benchmark: settlements per second and latency of ``POST /api/v1/settlements`` over HTTP.

Starts ``minsheng serve`` on a fresh database (PostgreSQL in a new schema, and an SQLite
file), registers persons, then settles distinct claims at concurrency 1, 8 and 32 (each
claim a new ``setl_id``; persons drawn so that concurrent claims often hit the same
person). Prints one JSON line per measurement::

    {"bench": "service_settle", "backend": "postgres", "concurrency": 32, "requests": 4000,
     "settlements_per_s": ..., "p50_ms": ..., "p99_ms": ..., "errors": 0}

Each line also gives the CPU time spent per settlement by the server process(es)
(``server_cpu_ms``) and by all PostgreSQL processes of the machine (``pg_cpu_ms``, 0 on
SQLite), read from ``/proc``: on a shared machine these are steadier than the rates.

With ``wrk`` installed (Debian package ``wrk``) the claims are made and sent by wrk's Lua
script (``--seconds`` per measurement); the asyncio client (``--client python``) sends
``--requests`` claims made beforehand, and costs the 2-core machine's server more CPU.
With wrk, concurrency 32 is measured twice: closed (each connection sends its next claim
as soon as it has the reply: the server's capacity, where by Little's law the mean latency
is 32 / rate) and open at ``--rates`` (default 1,000 claims a second over the same 32
connections, as hospitals' billing systems send them: the latency at that load, counted
from when each claim was due to be sent, as wrk2 counts it; wrk's own figures, from when it
was sent, are ``sent_p50_ms`` and ``sent_p99_ms``).

On PostgreSQL each measurement starts right after a ``CHECKPOINT`` (when the role may run
one), so that no timed checkpoint — whose writes stalled every commit of this VM for 40 to
500 ms — falls inside it; ``checkpoints`` says how many the server began during the
measurement all the same.

Usage: ``python bench/service.py [--requests N] [--backends postgres,sqlite] [--workers W]
[--client auto|wrk|python] [--seconds S] [--concurrencies 1,8,32] [--rates 1000]
[--no-writer-process] [--writers N]``
(``--writers``: the server's writer processes, each settling its share of the persons).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).parent))
import _wrk
from _load import load_many, request_bytes
from _report import emit
from _server import running_server

PG_URL = os.environ.get("MINSHENG_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PERSONS = 200  # default of --persons
BACKENDS = ("postgres", "sqlite")
CONCURRENCIES = (1, 8, 32)  # default of --concurrencies


def _cpu_by_process(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each process still running."""
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _cpu_seconds(pids: list[int]) -> float:
    return sum(_cpu_by_process(pids).values())


def _postgres_cpu() -> dict[int, float]:
    return _cpu_by_process(_processes(named="postgres"))


def _postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds of the PostgreSQL processes since ``before`` (a backend started meanwhile,
    e.g. for a writer's further connection, counts whole)."""
    now = _cpu_by_process(_processes(named="postgres"))
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


def _processes(named: str | None = None, port: int | None = None) -> list[int]:
    """Process ids by command name, or the server's (its command line names its port)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ((named is not None and comm.startswith(named))
                or (port is not None and f"--port {port}" in cmdline)):
            found.append(int(entry))
    return found


def _server_processes(port: int) -> list[int]:
    """The server and its worker processes (children of the server)."""
    root = _processes(port=port)
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid in root:
                children.append(int(entry))
    return root + children


def load(url: str, requests: list[bytes], concurrency: int) -> dict[str, Any]:
    """Settlements sent over ``concurrency`` keep-alive connections (see bench/_load.py)."""
    result = load_many(url, requests, concurrency)
    result["settlements_per_s"] = result.pop("requests_per_s")
    return result


def claim(run: str, i: int, people: list[str]) -> dict[str, Any]:
    """The ``i``-th claim of a run: a new ``setl_id``, persons in turn, varied amounts."""
    return {"setl_id": f"B{run}-{i}", "psn_no": people[i % len(people)],
            "setl_time": f"2023-{1 + i % 12:02d}-15T10:00:00", "med_type": "21",
            "hosp_lv": 1 + i % 3, "in_province": True,
            "medfee_sumamt": f"{2000 + i % 5000}.{i % 100:02d}",
            "fulamt_ownpay_amt": "100.00", "preselfpay_amt": "50.00",
            "overlmt_selfpay": "0.00"}


def claims(url: str, headers: dict[str, str], people: list[str], n: int) -> list[bytes]:
    run = uuid.uuid4().hex[:8]
    return [request_bytes("POST", url, claim(run, i, people), headers) for i in range(n)]


PACING = """local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end
local start, sent, interval = nil, 0, 1000 / RATE
local due, first, last = {}, 1, 0  -- the times the requests delayed so far were due, in order
local due_of = {}                  -- request index -> the time it was due
scheduled = {}                     -- milliseconds from due to reply (done() collects them)
function delay()
  local t = now_ms()
  if start == nil then start = t end
  sent = sent + 1
  last = last + 1
  due[last] = start + sent * interval
  local wait = due[last] - t
  if wait < 0 then return 0 end
  return wait
end
function sending(i)
  if first <= last then
    due_of[i] = due[first]; due[first] = nil; first = first + 1
  else
    due_of[i] = now_ms()  -- a connection's first request: sent at once
  end
end
function response(status, headers, body)
  local i = tonumber(string.match(body, '^{"setl_id":"B%x+%-(%d+)"'))
  if i and due_of[i] then
    scheduled[#scheduled + 1] = now_ms() - due_of[i]
    due_of[i] = nil
  end
end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for _, ms in ipairs(thread:get("scheduled")) do all[#all + 1] = ms end
  end
  table.sort(all)
  local function at(q) return all[math.max(1, math.ceil(q * #all))] end
  if #all > 0 then
    io.write(string.format("SCHEDULED p50=%.3f p99=%.3f n=%d\\n", at(0.5), at(0.99), #all))
  end
end
"""
"""wrk's ``delay()`` holding the requests of all connections to one schedule of ``RATE``
requests a second (an open workload, as wrk2 makes it): the k-th request leaves at
``start + k / RATE`` or, when the server is behind, as soon as a connection is free. The
latency of each reply is also counted from the time its request was *due* (``scheduled``,
printed by ``done()``), as wrk2 does: a request that waited for a free connection because
the server was behind counts that wait too, which wrk's own figures (from the moment it
was sent) leave out."""


def wrk_script(headers: dict[str, str], people: list[str], rate: int | None = None) -> str:
    """The same claims as :func:`claim`, made by wrk's Lua ``request()`` one by one; with
    ``rate``, sent at that many a second (:data:`PACING`)."""
    template = orjson.dumps(claim("RUN", 0, ["PSN"])).decode()
    for key, mark in (("B" + "RUN-0", "B%s-%d"), ("PSN", "%s"), ("2023-01-15", "2023-%02d-15"),
                      ('"hosp_lv":1', '"hosp_lv":%d'), ("2000.00", "%d.%02d")):
        template = template.replace(key, mark, 1)
    lua_people = ",".join(f'"{p}"' for p in people)
    set_headers = "".join(f"wrk.headers[{k!r}] = {v!r}\n" for k, v in headers.items())
    return (f"wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n{set_headers}"
            f"local people = {{{lua_people}}}\nlocal run = '{uuid.uuid4().hex[:8]}'\nlocal i = 0\n"
            "function request()\n"
            f"  local body = string.format('{template}', run, i, people[i % #people + 1],\n"
            "    1 + i % 12, 1 + i % 3, 2000 + i % 5000, i % 100)\n"
            "  if sending then sending(i) end\n"
            "  i = i + 1\n"
            "  return wrk.format(nil, nil, nil, body)\n"
            "end\n" + (PACING.replace("RATE", str(rate)) if rate else ""))


def fresh_database(backend: str, folder: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", lambda: None
    import psycopg

    schema = f"msbench_{uuid.uuid4().hex[:8]}"
    admin = PG_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def _checkpoints() -> int:
    """Checkpoints the PostgreSQL server has begun since its statistics were reset."""
    import psycopg

    with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql")) as conn:
        for view in ("pg_stat_checkpointer", "pg_stat_bgwriter"):  # PostgreSQL 17+, before
            try:
                column = "num_timed + num_requested" if view == "pg_stat_checkpointer" else (
                    "checkpoints_timed + checkpoints_req")
                row = conn.execute(f"SELECT {column} FROM {view}").fetchone()
                return int(row[0]) if row else 0
            except psycopg.Error:
                conn.rollback()
    return 0


def _checkpoint() -> int:
    """A ``CHECKPOINT`` now (if this role may: superuser or ``pg_checkpoint``), so that the
    server's next timed one is ``checkpoint_timeout`` away; the checkpoints begun so far."""
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(
            PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    return _checkpoints()


def bench_backend(backend: str, requests: int, workers: int, client: str, seconds: int,
                  rates: list[int], persons: int, writer_process: bool = True,
                  writers: int | None = None,
                  concurrencies: tuple[int, ...] = CONCURRENCIES) -> None:
    from minsheng.cli.serve import DEFAULT_WRITERS
    from minsheng.service.auth import SYSTEM, create_token
    from minsheng.service.db import Database
    from minsheng.service.persons import create_person
    from minsheng.service.unit_of_work import UnitOfWork

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(backend, Path(tmp))
        try:
            db = Database(url, pool_size=2)
            db.migrate()
            with UnitOfWork(db, write=True) as uow:
                _, secret = create_token(uow, "admin", label="bench")
                uow.commit()
            people = [f"BP{i:05d}" for i in range(persons)]
            for p in people:  # registered as POST /api/v1/persons does, before the server starts
                create_person(UnitOfWork(db, write=True), SYSTEM, {
                    "psn_no": p, "insutype": "390", "region": "140100",
                    "categories": ["minimum_allowance"] if int(p[2:]) % 3 else []})
            db.dispose()
            headers = {"Authorization": f"Bearer {secret}"}
            writer = "--writer-process" if writer_process else "--no-writer-process"
            writers = writers or DEFAULT_WRITERS
            with running_server("--workers", str(workers), writer, "--writers", str(writers),
                                env={"MINSHENG_DATABASE_URL": url}) as base:
                endpoint = f"{base}/api/v1/settlements"
                load(endpoint, claims(endpoint, headers, people, 50), 4)  # warm up
                server = _server_processes(urlsplit(base).port or 0)
                runs = [(c, None) for c in concurrencies]
                if client == "wrk":
                    runs += [(32, rate) for rate in rates]
                for concurrency, rate in runs:
                    checkpoints = _checkpoint() if backend == "postgres" else None
                    if client == "wrk":
                        before = _cpu_seconds(server), (_postgres_cpu() if backend == "postgres" else {})
                        result = _wrk.run_script(endpoint, wrk_script(headers, people, rate),
                                                 concurrency, seconds)
                        result["settlements_per_s"] = result.pop("requests_per_s")
                        result["offered_per_s"] = rate  # None: as fast as the replies come
                    else:
                        n = requests if concurrency > 1 else max(requests // 4, 50)
                        batch = claims(endpoint, headers, people, n)
                        before = _cpu_seconds(server), (_postgres_cpu() if backend == "postgres" else {})
                        result = load(endpoint, batch, concurrency)
                        result["client"] = "python"
                    n = max(1, result["requests"])
                    server_cpu = _cpu_seconds(server) - before[0]
                    pg_cpu = _postgres_cpu_since(before[1]) if backend == "postgres" else 0.0
                    if checkpoints is not None:
                        result["checkpoints"] = _checkpoints() - checkpoints
                    emit(bench="service_settle", backend=backend, workers=workers,
                         writer_process=writer_process,
                         writers=writers if writer_process else 0, persons=persons, **result,
                         server_cpu_ms=round(server_cpu / n * 1e3, 3),
                         pg_cpu_ms=round(pg_cpu / n * 1e3, 3))
        finally:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk when installed (auto), else asyncio")
    parser.add_argument("--seconds", type=int, default=8, help="seconds per measurement (wrk)")
    parser.add_argument("--rates", default="1000",
                        help="also at concurrency 32 with the claims sent at these rates a second "
                             "(wrk only; comma-separated, empty for none)")
    parser.add_argument("--concurrencies", default="1,8,32",
                        help="closed measurements, each connection sending its next claim on "
                             "the reply (comma-separated, empty for none)")
    parser.add_argument("--persons", type=int, default=PERSONS,
                        help="persons the claims are spread over (200: concurrent claims of one "
                             "batch often share a person; a province's thousands seldom do)")
    parser.add_argument("--no-writer-process", action="store_true",
                        help="settle in each HTTP process (minsheng serve --no-writer-process)")
    parser.add_argument("--writers", type=int, default=None,
                        help="writer processes, each settling its share of the persons "
                             "(minsheng serve --writers; default: the server's, 1)")
    args = parser.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if _wrk.available() else "python")
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    concurrencies = tuple(int(c) for c in args.concurrencies.split(",") if c.strip())
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:  # (any other name would be run as PostgreSQL without its CPU measured)
        parser.error(f"--backends: unknown {', '.join(unknown)} (known: {', '.join(BACKENDS)})")
    for backend in backends:
        bench_backend(backend, args.requests, args.workers, client, args.seconds, rates,
                      args.persons, not args.no_writer_process, args.writers, concurrencies)


if __name__ == "__main__":
    main()

"""Benchmark: batch settlement end to end (Parquet → Parquet), local and Spark.

Prints one JSON line per measurement: claims per second and the peak memory of the whole
process tree (the engine and its worker processes, sampled from /proc every 50 ms), the CPU
seconds of the tree, and the one-minute load average before and after the run (the machine
is shared: read claims per second together with the load).

Usage: ``python bench/batch.py [--sizes 1000000,10000000] [--compressions none,lz4]
[--spark-sizes 1000000,10000000] [--spark-masters 'local[1],local[2]'] [--data DIR]
[--no-spark]``. Each size is settled by the local engine with its default worker processes
and with one; ``--compressions`` repeats those runs for each compression of the output
parts. The Spark engine settles each of ``--spark-sizes`` once per master (``local[1]``,
``local[2]``: how its throughput grows with cores). Synthetic data (``minsheng synth``) are
generated once per size into ``--data`` (default: a temporary folder) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import emit

CLAIMS_PER_PERSON = 4.41  # the synthetic Shanxi profile's mean, measured
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """Resident memory (bytes) and CPU seconds (user + system) of a process, None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[21]) * PAGE_SIZE, (int(fields[11]) + int(fields[12])) / CLOCK_TICK)


def _tree(root: int) -> dict[int, tuple[int, float]]:
    """``root`` and all its descendants: resident memory (bytes) and CPU seconds of each.

    Found through each thread's ``/proc/PID/task/TID/children``: a few reads per process of
    the tree, where scanning all of ``/proc`` took about 5 ms, a tenth of one core when done
    every 50 ms (it slowed the measured job by about as much, docs/batch.md, sitting 11)."""
    out: dict[int, tuple[int, float]] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        stat = _stat(pid)
        if stat is None:
            continue
        out[pid] = stat
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
            except FileNotFoundError:
                if pid == root and tid == str(root):  # (a kernel without these files)
                    return _tree_by_scan(root)
            except OSError:
                continue
    return out


def _tree_by_scan(root: int) -> dict[int, tuple[int, float]]:
    """:func:`_tree` by reading every process's parent from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, stack = {}, [root]
    while stack:
        pid = stack.pop()
        stat = _stat(pid)
        if stat is not None:
            out[pid] = stat
        stack.extend(children.get(pid, []))
    return out


def measure(cmd: list[str]) -> tuple[float, int, str, float, float]:
    """Run ``cmd``; wall seconds, peak resident memory of its process tree, stdout, the CPU
    seconds (user + system) of the reaped tree — a figure less disturbed by other load — and
    the CPU seconds of the tree as sampled from /proc every 50 ms (which also sees processes
    that are not reaped by the command, such as Spark's JVM; a little short of the end)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    cpu_seen: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            tree = _tree(proc.pid)
            peak = max(peak, sum(rss for rss, _ in tree.values()))
            for pid, (_, cpu) in tree.items():
                cpu_seen[pid] = max(cpu_seen.get(pid, 0.0), cpu)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, peak, out, cpu, sum(cpu_seen.values())


def ensure_data(root: Path, claims: int) -> tuple[Path, Path, int]:
    folder = root / f"synth-{claims}"
    if not (folder / "claims.parquet").exists():
        persons = int(claims / CLAIMS_PER_PERSON)
        seconds, peak, out, _, _ = measure([sys.executable, "-m", "minsheng", "synth", "--persons",
                                      str(persons), "--seed", "2023", "--out", str(folder), "--json"])
        info = json.loads(out)
        emit(bench="batch_synth", persons=info["persons"], claims=info["claims"],
             seconds=round(seconds, 2), rows_per_s=round(info["claims"] / seconds),
             peak_mib=round(peak / 2**20))
    import pyarrow.parquet as pq

    n = pq.ParquetFile(folder / "claims.parquet").metadata.num_rows
    return folder / "claims.parquet", folder / "persons.parquet", n


def settle(engine: str, claims: Path, persons: Path, n: int, work: Path, **options: str) -> None:
    out = work / f"out-{engine}-{n}-{'-'.join(options.values()) or 'default'}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "minsheng", "batch", "settle", str(claims), "--persons",
           str(persons), "--out", str(out), "--engine", engine, "--json", "-q"]
    for k, v in options.items():
        cmd += [f"--{k.replace('_', '-')}", v]
    load_before = os.getloadavg()[0]
    seconds, peak, stdout, cpu, sampled = measure(cmd)
    summary = json.loads(stdout[stdout.index("{"):])
    if engine != "local":
        cpu = sampled  # Spark's JVM is not a reaped child: its CPU is sampled from /proc
    emit(bench="batch_settle", engine=engine, claims=summary["rows"], chunks=summary["chunks"],
         **options, seconds=round(seconds, 2), claims_per_s=round(summary["rows"] / seconds),
         cpu_seconds=round(cpu, 2), claims_per_cpu_s=round(summary["rows"] / max(cpu, 1e-9)),
         cores_busy=round(cpu / seconds, 2),
         peak_mib=round(peak / 2**20), cores=os.cpu_count(),
         load_average_before=round(load_before, 2), load_average=round(os.getloadavg()[0], 2),
         **{k: summary[k] for k in ("ingest_seconds", "settle_seconds", "session_seconds",
                                    "spark_job_seconds") if k in summary})
    shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--compressions", default="none",
                        help="compressions of the local engine's parts, each run in turn")
    parser.add_argument("--spark-sizes", default="1000000,10000000",
                        help="claims settled by Spark (each size once per master)")
    parser.add_argument("--spark-masters", default="local[1],local[2]",
                        help="Spark masters, each run in turn on the same claims")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="minsheng-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="minsheng-bench-out-"))
    try:
        for size in [int(s) for s in args.sizes.split(",") if s]:
            claims, persons, n = ensure_data(root, size)
            for compression in [c for c in args.compressions.split(",") if c]:
                extra = {"compression": compression}
                settle("local", claims, persons, n, work, **extra)
                settle("local", claims, persons, n, work, workers="1", **extra)
        for size in [] if args.no_spark else [int(s) for s in args.spark_sizes.split(",") if s]:
            claims, persons, n = ensure_data(root, size)
            for master in [m for m in args.spark_masters.split(",") if m]:
                settle("spark", claims, persons, n, work, master=master)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Memory stays bounded: the local engine holds a few chunks of whole persons, not the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
from batch_helpers import make_population

RUN = """
import json, resource, sys
from pathlib import Path
from minsheng.batch.local import settle_file
claims, persons, out, chunk = sys.argv[1:5]
summary = settle_file(Path(claims), Path(persons), Path(out), chunk_rows=int(chunk), workers=1)
# VmHWM: this process's own peak (ru_maxrss may carry the parent's peak over fork and exec)
status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
hwm = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
peak_kib = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"chunks": summary.chunks, "rows": summary.rows, "peak_mib": peak_kib / 1024}))
"""


def _run(claims: Path, persons: Path, out: Path, chunk: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", RUN, str(claims), str(persons), str(out), str(chunk)],
                          capture_output=True, text=True, check=True, timeout=300)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_file_many_chunks_long_settles_in_far_less_memory_than_in_one_chunk(tmp_path: Path) -> None:
    pop = make_population(tmp_path / "data", 80_000, seed=9)
    small = _run(pop.claims, pop.persons, tmp_path / "small", 15_000)
    whole = _run(pop.claims, pop.persons, tmp_path / "whole", 10_000_000)
    assert small["rows"] == whole["rows"] > 300_000
    assert small["chunks"] >= 20 and whole["chunks"] == 1
    assert small["peak_mib"] < whole["peak_mib"] - 100, (small, whole)
    assert small["peak_mib"] < 700, small
    assert pl.read_parquet(tmp_path / "small").sort("setl_id").equals(
        pl.read_parquet(tmp_path / "whole").sort("setl_id"))

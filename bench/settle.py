"""Settlement kernel throughput, in process, on synthetic claims (prints JSON lines).

    .venv/bin/python bench/settle.py                 # 1 M and 10 M claims
    .venv/bin/python bench/settle.py --claims 200000

Each line: ``{"bench": "settle_kernel", "claims", "claims_per_s", "seconds",
"resolve_seconds", "settle_seconds", "parameter_rows", "peak_rss_mb"}``. ``claims_per_s``
counts resolving the parameters and settling (everything after the arrays exist), by the
wall clock; ``claims_per_cpu_s`` by this process's CPU time (less sensitive to other load
on a shared machine). Peak RSS is the process's maximum so far (sizes run in increasing
order), synthetic data included.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np

from minsheng.core.parameters import ParameterView, default_store
from minsheng.rules.settlement import Claims, resolve, settle
from minsheng.rules.settlement_params import CATEGORY_BITS, day_number

REGIONS = np.array([140100, 140000, 220100, 220102, 220112, 222401], np.int64)


def synthetic(n: int, seed: int = 7) -> Claims:
    """n claims of about n/5 persons over 2023–2024, sorted by person and date."""
    rng = np.random.default_rng(seed)
    persons = max(n // 5, 1)
    person = np.sort(rng.integers(0, persons, n))
    start = day_number(__import__("datetime").date(2023, 1, 1))
    day = start + rng.integers(0, 730, n)
    order = np.lexsort((day, person))
    person, day = person[order], day[order]
    p_region = REGIONS[rng.integers(0, len(REGIONS), persons)]
    p_resident = rng.random(persons) < 0.7
    bits = np.array(list(CATEGORY_BITS.values()), np.uint16)
    p_cats = np.where(rng.random(persons) < 0.15, bits[rng.integers(0, len(bits), persons)], 0)
    med = rng.choice(np.array([11, 14, 21], np.int8), n, p=[0.6, 0.2, 0.2])
    scale = np.where(med == 11, 300_00, np.where(med == 14, 2_000_00, 30_000_00))
    total = (rng.exponential(1.0, n) * scale).astype(np.int64)
    own = (total * rng.random(n) * 0.1).astype(np.int64)
    pre = (total * rng.random(n) * 0.1).astype(np.int64)
    over = np.where(rng.random(n) < 0.1, (total * 0.05).astype(np.int64), 0)
    return Claims.from_columns({
        "person": person, "day": day, "region": p_region[person],
        "resident": p_resident[person], "med_type": med,
        "hosp_lv": rng.integers(0, 4, n), "in_province": rng.random(n) < 0.85,
        "categories": p_cats[person], "medfee_sumamt": total, "fulamt_ownpay_amt": own,
        "preselfpay_amt": pre, "overlmt_selfpay": over,
    })


def measure(n: int, view: ParameterView) -> dict[str, object]:
    claims = synthetic(n)
    c0, t0 = time.process_time(), time.perf_counter()
    params = resolve(claims, view)
    t1 = time.perf_counter()
    result = settle(claims, params)
    c2, t2 = time.process_time(), time.perf_counter()
    assert int(result.fund_pay_sumamt.sum()) > 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = len(params.tables.basic) + len(params.tables.critical) + len(params.tables.assistance)
    return {"bench": "settle_kernel", "claims": n, "claims_per_s": round(n / (t2 - t0)),
            "claims_per_cpu_s": round(n / (c2 - c0)), "seconds": round(t2 - t0, 3),
            "resolve_seconds": round(t1 - t0, 3),
            "settle_seconds": round(t2 - t1, 3), "parameter_rows": rows,
            "peak_rss_mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, nargs="*", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    view = ParameterView(default_store())
    measure(10_000, view)  # warm up: load parameters, import everything
    for n in sorted(args.claims):
        sys.stdout.write(json.dumps(measure(n, view)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

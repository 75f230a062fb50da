"""Policy simulation: what a change of parameters would cost, before it is made.

The same population (claims and persons, checked once like ``batch settle`` checks them)
is settled twice by the kernel — under the baseline (the parameters in force, or the
overrides of ``--baseline``) and under the reform (the overrides of ``--reform``) — chunk
by chunk of whole persons, and summed:

- fund outlay per tier (``hifp_pay``, ``hifmi_pay``, ``maf_pay``) by insurance type,
  assistance category and ``med_type``;
- fiscal liability per level for financing: the registered calculation
  ``resident_fiscal_subsidy`` (its split of the per-capita subsidy) with the head-count of
  resident insured persons of each region;
- watch-list counts (:func:`minsheng.rules.assistance.watch_list_status` semantics, via
  :mod:`minsheng.batch.person_years`);
- the distribution of the personal burden per person-year (percentiles, in fen);
- the resident inpatient payment ratio — fund payments over the policy-range cost of
  residents' inpatient claims — against its target
  (``medical.financing.resident.inpatient_payment_ratio_target``).

Whatever a parameter does not say (a region or year without an encoded value) is reported
as not encoded, naming the parameter, region and date; nothing is guessed. Example values
used are listed as warnings in the report.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from minsheng.batch.chunks import Settled, segment_last, settle_table
from minsheng.batch.columns import SECONDS_PER_DAY
from minsheng.batch.ingest import (
    DEFAULT_CHUNK,
    bucket_count,
    check_parameters,
    count_claims,
    ingest_buckets,
    read_bucket,
)
from minsheng.batch.overrides import parameter_view
from minsheng.batch.person_years import WATCH_MISSING, missing_warnings, watch_lists
from minsheng.batch.persons import load_persons
from minsheng.batch.pool import carried, share, worker_count, worker_pool
from minsheng.batch.progress import NullReporter, Reporter
from minsheng.batch.worker_state import (
    overrides_json,
    stage_persons,
    worker_persons,
    worker_resolver,
    worker_view,
)
from minsheng.core.calculation import run
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import InputError, MinshengError, ParameterMissing
from minsheng.core.money import format_fen
from minsheng.core.parameters import ParameterView
from minsheng.core.regions import get_region, province_of
from minsheng.rules.settlement_params import CATEGORY_CHOICE, PRIORITY, number_day

TIERS = (("hifp_pay", "基本医保统筹基金"), ("hifmi_pay", "大病保险"), ("maf_pay", "医疗救助"))
SUMS = ("claims", "medfee_sumamt", "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay",
        "psn_part_amt")
MED_TYPE_LABELS = {11: "普通门诊", 14: "门诊慢特病", 21: "住院"}
INSUTYPE_LABELS = {True: "城乡居民", False: "职工"}
CATEGORY_LABELS = ["无救助类别", *(CATEGORIES[k] for k in PRIORITY)]
PERCENTILES = (50, 75, 90, 95, 99)
TARGET = "medical.financing.resident.inpatient_payment_ratio_target"
LEVELS = (("central", "中央"), ("provincial", "省级"), ("local", "市县"))


@dataclass(frozen=True)
class Tally:
    """One chunk of whole persons settled under one scenario, summed (:func:`tally`)."""

    outlay: pl.DataFrame
    """Claims and sums by ``resident``, ``category`` and ``med_type``."""
    inpatient: dict[str, int]
    """Residents' inpatient claims: fund payments, policy-range cost and count."""
    burdens: npt.NDArray[np.int64]
    """The personal burden of each person-year."""
    watch: dict[str, int]
    watch_missing: set[tuple[str, str, str]]
    warnings: list[str]


def tally(settled: Settled, view: ParameterView) -> Tally:
    """Sum one settled chunk for the report (runs where the chunk was settled)."""
    r = settled.result
    frame = settled.frame
    chosen = CATEGORY_CHOICE[settled.categories].astype(np.int8)
    claims = pl.DataFrame({
        "resident": settled.resident, "category": chosen,
        "med_type": frame["med_type"], "medfee_sumamt": frame["medfee_sumamt"],
        "inscp_scp_amt": r.inscp_scp_amt, "hifp_pay": r.hifp_pay, "hifmi_pay": r.hifmi_pay,
        "maf_pay": r.maf_pay, "psn_part_amt": r.psn_part_amt})
    outlay = claims.group_by(["resident", "category", "med_type"]).agg(
        pl.len().cast(pl.Int64).alias("claims"), *[pl.col(c).sum() for c in SUMS[1:]])
    inpatient_rows = settled.resident & (frame["med_type"].to_numpy() == 21)
    inpatient = {k: int(getattr(r, k)[inpatient_rows].sum())
                 for k in ("hifp_pay", "hifmi_pay", "maf_pay", "inscp_scp_amt")}
    inpatient["claims"] = int(inpatient_rows.sum())
    burden = r.after.columns["psn_part_amt"].copy()
    last = segment_last(r)
    day = frame["t"].to_numpy()[last] // SECONDS_PER_DAY
    watch = watch_lists(settled.region[last], settled.categories[last], day, burden, view)
    notes = [w for w in watch.warnings if not w.startswith(WATCH_MISSING)]
    return Tally(outlay, inpatient, burden, watch.counts(), set(watch.missing),
                 list(dict.fromkeys([*settled.warnings, *notes])))


@dataclass(frozen=True)
class BucketTally:
    """What a worker gives back for one bucket: both scenarios' tallies and a sample of
    the claims' days (for the simulation's year)."""

    bucket: int
    rows: int
    days: npt.NDArray[np.int64]
    tallies: tuple[Tally, ...]


@dataclass(frozen=True)
class SimulationTask:
    bucket: int
    work: str
    scenarios: tuple[str, ...]
    """Each scenario's overrides as JSON."""


def tally_bucket(task: SimulationTask) -> BucketTally:
    """Settle one bucket under every scenario and sum it."""
    prepared = read_bucket(task.work, task.bucket)
    persons = worker_persons(task.work)
    tallies = []
    settled = None
    for key in task.scenarios:
        view = worker_view(key)
        settled = settle_table(prepared, view, persons, worker_resolver(task.work, key))
        tallies.append(tally(settled, view))
    t = settled.frame["t"].to_numpy() if settled is not None else np.zeros(0, np.int64)
    return BucketTally(task.bucket, prepared.num_rows,
                       t[:: max(1, len(t) // 1000)] // SECONDS_PER_DAY, tuple(tallies))


@carried
def simulate_bucket(task: SimulationTask) -> BucketTally:
    """:func:`tally_bucket` in a worker process."""
    return tally_bucket(task)


@dataclass
class Scenario:
    """One scenario's sums over the whole population."""

    name: str
    label: str
    overrides: dict[str, Any]
    view: ParameterView
    warnings: list[str] = field(default_factory=list)
    parts: list[pl.DataFrame] = field(default_factory=list)
    burdens: list[npt.NDArray[np.int64]] = field(default_factory=list)
    watch: dict[str, int] = field(default_factory=dict)
    inpatient: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("hifp_pay", "hifmi_pay", "maf_pay", "inscp_scp_amt", "claims"), 0))
    outlay: pl.DataFrame | None = None
    fiscal: list[dict[str, Any]] = field(default_factory=list)
    fiscal_missing: list[str] = field(default_factory=list)
    target: list[dict[str, Any]] = field(default_factory=list)
    watch_missing: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, t: Tally) -> None:
        """Merge one chunk's tally (chunks are merged in bucket order)."""
        self.parts.append(t.outlay)
        for k, v in t.inpatient.items():
            self.inpatient[k] += v
        self.burdens.append(t.burdens)
        for k, n in t.watch.items():
            self.watch[k] = self.watch.get(k, 0) + n
        self.watch_missing |= t.watch_missing
        self.warnings.extend(w for w in t.warnings if w not in self.warnings)

    def finish(self) -> None:
        if self.parts:
            self.outlay = pl.concat(self.parts).group_by(["resident", "category", "med_type"]).agg(
                *[pl.col(c).sum() for c in SUMS]).sort(["resident", "category", "med_type"],
                                                       descending=[True, False, False])
        else:
            self.outlay = pl.DataFrame(schema={"resident": pl.Boolean, "category": pl.Int8,
                                               "med_type": pl.Int8,
                                               **dict.fromkeys(SUMS, pl.Int64)})
        self.parts = []
        self.warnings.extend(missing_warnings(self.watch_missing))

    def total(self, column: str) -> int:
        assert self.outlay is not None
        return int(self.outlay[column].sum())

    def burden_array(self) -> npt.NDArray[np.int64]:
        return np.concatenate(self.burdens) if self.burdens else np.zeros(0, np.int64)

    def percentiles(self) -> dict[str, int]:
        b = self.burden_array()
        if not len(b):
            return {}
        out = {f"p{q}": int(np.percentile(b, q, method="inverted_cdf")) for q in PERCENTILES}
        out["max"] = int(b.max())
        out["mean"] = int((int(b.sum()) * 2 + len(b)) // (2 * len(b)))
        return out

    def inpatient_ratio(self, which: tuple[str, ...]) -> Fraction | None:
        base = self.inpatient["inscp_scp_amt"]
        if not base:
            return None
        return Fraction(sum(self.inpatient[k] for k in which), base)


@dataclass
class Simulation:
    out: Path
    claims: int
    person_years: int
    year: int
    baseline: Scenario
    reform: Scenario
    seconds: float
    notes: list[str]

    def summary(self) -> dict[str, Any]:
        def scenario(s: Scenario) -> dict[str, Any]:
            ratio = s.inpatient_ratio(("hifp_pay",))
            return {"overrides": s.overrides,
                    "fund": {k: format_fen(s.total(k)) for k, _ in TIERS},
                    "psn_part_amt": format_fen(s.total("psn_part_amt")),
                    "watch_list": s.watch, "burden_percentiles": {
                        k: format_fen(v) for k, v in s.percentiles().items()},
                    "resident_inpatient_basic_ratio": _pct(ratio),
                    "fiscal": s.fiscal, "fiscal_missing": s.fiscal_missing}
        warnings = list(dict.fromkeys([*self.baseline.warnings, *self.reform.warnings]))
        return {"claims": self.claims, "person_years": self.person_years, "year": self.year,
                "baseline": scenario(self.baseline), "reform": scenario(self.reform),
                "warnings": warnings, "notes": self.notes, "seconds": round(self.seconds, 3),
                "report": str(self.out / "report.html")}

    def headlines(self) -> list[str]:
        lines = []
        for k, label in TIERS:
            b, r = self.baseline.total(k), self.reform.total(k)
            lines.append(f"{label}：基线 {format_fen(b)} 元，改革 {format_fen(r)} 元，"
                         f"变化 {_signed(r - b)} 元")
        wb, wr = self.baseline.watch, self.reform.watch
        lines.append(f"因病返贫监测：{wb.get('relapse_watch', 0)} → {wr.get('relapse_watch', 0)} 人年；"
                     f"因病致贫监测：{wb.get('impoverish_watch', 0)} → {wr.get('impoverish_watch', 0)} 人年"
                     + (f"；{wb['unknown']} 人年的监测参数未编码，无法判定" if wb.get("unknown") else ""))
        return lines


def _signed(fen: int) -> str:
    return ("+" if fen > 0 else "") + format_fen(fen)


def _pct(ratio: Fraction | None) -> str | None:
    if ratio is None:
        return None
    basis = ratio * 10000
    q, r = divmod(basis.numerator, basis.denominator)
    if 2 * r >= basis.denominator:
        q += 1
    return f"{q // 100}.{q % 100:02d}%"


def run_simulation(claims: Path, persons_path: Path, out: Path, *,
                   baseline: Mapping[str, Any] | None = None, reform: Mapping[str, Any],
                   chunk_rows: int = DEFAULT_CHUNK, reporter: Reporter | None = None,
                   workers: int | None = None) -> Simulation:
    """``minsheng simulate`` (see the module docstring); writes the report and CSV tables.

    ``workers`` processes (default as ``batch settle``: one per core from two million
    claims) check the claims and settle the chunks; the sums are merged in chunk order, so
    the report is the same whatever the number of processes."""
    started = time.perf_counter()
    reporter = reporter or NullReporter()
    scenarios = [Scenario("baseline", "基线", dict(baseline or {}), parameter_view(baseline or {})),
                 Scenario("reform", "改革方案", dict(reform), parameter_view(reform))]
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("--out", f"输出目录 {out} 已存在且不是空目录", "output exists and is not empty")
    total = count_claims(claims)
    buckets = bucket_count(total, chunk_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".minsheng-simulate-", dir=out.parent))
    try:
        with worker_pool(worker_count(workers, total), scenarios[0].overrides) as pool:
            reporter.phase("读取人员 reading persons", None)
            persons = load_persons(persons_path)
            stage_persons(persons, work)
            ingested = ingest_buckets(claims, persons, scenarios[0].view, work, buckets,
                                      scenarios[0].overrides, reporter, pool,
                                      min(chunk_rows, DEFAULT_CHUNK), total)
            scenarios[0].warnings.extend(ingested.warnings)
            scenarios[1].warnings.extend(check_parameters(ingested.keys, scenarios[1].view))
            reporter.phase("模拟结算 settling baseline and reform", ingested.rows)
            views = tuple(overrides_json(s.overrides) for s in scenarios)
            tasks = [SimulationTask(b, str(work), views) for b in range(buckets)]
            results: dict[int, BucketTally] = {}

            def done(result: BucketTally) -> None:
                results[result.bucket] = result
                reporter.advance(result.rows)

            if pool is None:
                for task in tasks:
                    done(tally_bucket(task))
            else:
                share(pool, simulate_bucket, tasks, done)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    days = []
    for b in range(buckets):
        if results[b].rows:
            days.append(results[b].days)
            for s, t in zip(scenarios, results[b].tallies, strict=True):
                s.add(t)
    for s in scenarios:
        s.finish()
    year = _main_year(days)
    counts = _resident_counts(persons)
    for s in scenarios:
        _fiscal(s, counts, year)
        _targets(s, counts, year)
    person_years = len(scenarios[0].burden_array())
    notes = [f"模拟年度 {year}：财政补助按该年1月1日在各地区有效的参数、以人员文件中城乡居民参保人数计算。",
             "支付比例 = 基金支付 ÷ 城乡居民住院结算单的政策范围内费用；与目标比较的是基本医保统筹基金支付比例"
             "（读法：吉医保联〔2020〕15号所说的“城乡居民医保政策范围内住院费用平均支付比例”）。"]
    sim = Simulation(out, ingested.rows, person_years, year, scenarios[0], scenarios[1],
                     time.perf_counter() - started, notes)
    write_outputs(sim)
    return sim


def _main_year(days: list[npt.NDArray[np.int64]]) -> int:
    if not days:
        return 0
    d = np.concatenate(days)
    years = d.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    values, counts = np.unique(years, return_counts=True)
    return int(values[np.argmax(counts)])


def _resident_counts(persons: Any) -> dict[str, int]:
    codes, counts = np.unique(persons.region[persons.resident], return_counts=True)
    return {f"{int(c):06d}": int(n) for c, n in zip(codes, counts, strict=True)}


def _fiscal(s: Scenario, counts: Mapping[str, int], year: int) -> None:
    """Fiscal liability per level: ``resident_fiscal_subsidy`` × residents of each region."""
    names = ("liability_total", *(f"liability_{k}" for k, _ in LEVELS))
    missing: dict[tuple[str, str], list[str]] = {}
    for region, n in sorted(counts.items()):
        overrides = {k: v for k, v in s.overrides.items()
                     if k.startswith("medical.financing.")}
        try:
            result = run("resident_fiscal_subsidy", date=f"{year}-01-01", region=region,
                         inputs={"insured_persons": n}, parameters=overrides, trace=False)
        except ParameterMissing as exc:
            missing.setdefault((exc.name, str(exc.details.get("date"))), []).append(region)
            continue
        except MinshengError as exc:
            if exc.message not in s.fiscal_missing:
                s.fiscal_missing.append(exc.message)
            continue
        row = {"region": region, "region_name": get_region(region).name, "insured_residents": n,
               "per_capita": format_fen(result.outputs["total"])}
        for name in names:
            row[name] = format_fen(result.outputs[name])
        s.fiscal.append(row)
        s.warnings.extend(w for w in result.warnings if w not in s.warnings)
    for (name, day), regions in missing.items():
        s.fiscal_missing.append(f"参数 {name} 在地区 {'、'.join(regions)}、日期 {day} 没有已编码的取值")


def _targets(s: Scenario, counts: Mapping[str, int], year: int) -> None:
    provinces = sorted({province_of(code) for code in counts})
    for code in provinces:
        day = number_day(0).replace(year=year, month=12, day=31) if year else None
        try:
            if day is None:
                raise InputError("year", "没有结算单", "no claims")
            resolved = s.view.get(TARGET, day, code)
        except MinshengError as exc:
            s.target.append({"province": code, "target": None, "note": exc.message})
            continue
        s.target.append({"province": code, "target": resolved.value,
                         "note": resolved.reference.cite()})


def write_outputs(sim: Simulation) -> None:
    """CSV tables, ``summary.json`` and ``report.html`` into ``sim.out``."""
    from minsheng.batch.report import render_report

    out = sim.out
    out.mkdir(parents=True, exist_ok=True)
    b, r = sim.baseline, sim.reform
    assert b.outlay is not None and r.outlay is not None
    _write_csv(out / "outlay_by_category.csv", outlay_rows(sim, ["resident", "category"]))
    _write_csv(out / "outlay_by_med_type.csv", outlay_rows(sim, ["resident", "med_type"]))
    _write_csv(out / "watch_list.csv", [
        {"list": k, "baseline": b.watch.get(k, 0), "reform": r.watch.get(k, 0),
         "change": r.watch.get(k, 0) - b.watch.get(k, 0)}
        for k in ("relapse_watch", "impoverish_watch", "none", "unknown")])
    pb, pr = b.percentiles(), r.percentiles()
    _write_csv(out / "burden_percentiles.csv", [
        {"statistic": k, "baseline": format_fen(pb[k]), "reform": format_fen(pr[k]),
         "change": format_fen(pr[k] - pb[k])} for k in pb])
    _write_csv(out / "inpatient_ratio.csv", inpatient_rows(sim))
    _write_csv(out / "fiscal_liability.csv", [
        {"scenario": s.name, **row} for s in (b, r) for row in s.fiscal])
    (out / "summary.json").write_text(json.dumps(sim.summary(), ensure_ascii=False, indent=1,
                                                 default=str), "utf-8")
    (out / "report.html").write_text(render_report(sim), "utf-8")


def outlay_rows(sim: Simulation, by: list[str]) -> list[dict[str, Any]]:
    """Fund outlay per tier, baseline vs reform, grouped by ``by`` (money as text)."""
    frames = []
    for s in (sim.baseline, sim.reform):
        assert s.outlay is not None
        frames.append(s.outlay.group_by(by).agg(*[pl.col(c).sum() for c in SUMS])
                      .with_columns(pl.lit(s.name).alias("scenario")))
    both = pl.concat(frames)
    keys = both.select(by).unique().sort(by, descending=[True] + [False] * (len(by) - 1))
    rows = []
    for key in keys.iter_rows(named=True):
        sel = both
        for k, v in key.items():
            sel = sel.filter(pl.col(k) == v)
        vals = {row["scenario"]: row for row in sel.iter_rows(named=True)}
        base, ref = vals.get("baseline", {}), vals.get("reform", {})
        row: dict[str, Any] = {"insutype": INSUTYPE_LABELS[bool(key["resident"])]}
        if "category" in key:
            row["category"] = CATEGORY_LABELS[int(key["category"])]
        if "med_type" in key:
            row["med_type"] = MED_TYPE_LABELS[int(key["med_type"])]
        row["claims"] = int(base.get("claims", 0))
        for k, _ in TIERS:
            bv, rv = int(base.get(k, 0)), int(ref.get(k, 0))
            row[f"{k}_baseline"] = format_fen(bv)
            row[f"{k}_reform"] = format_fen(rv)
            row[f"{k}_change"] = format_fen(rv - bv)
        bp, rp = int(base.get("psn_part_amt", 0)), int(ref.get("psn_part_amt", 0))
        row["psn_part_amt_baseline"] = format_fen(bp)
        row["psn_part_amt_reform"] = format_fen(rp)
        rows.append(row)
    return rows


def inpatient_rows(sim: Simulation) -> list[dict[str, Any]]:
    rows = []
    for s in (sim.baseline, sim.reform):
        target = next((t for t in s.target if t["target"] is not None), None)
        basic = s.inpatient_ratio(("hifp_pay",))
        rows.append({
            "scenario": s.name, "claims": s.inpatient["claims"],
            "inscp_scp_amt": format_fen(s.inpatient["inscp_scp_amt"]),
            "hifp_pay": format_fen(s.inpatient["hifp_pay"]),
            "basic_ratio": _pct(basic),
            "basic_critical_ratio": _pct(s.inpatient_ratio(("hifp_pay", "hifmi_pay"))),
            "all_funds_ratio": _pct(s.inpatient_ratio(("hifp_pay", "hifmi_pay", "maf_pay"))),
            "target": _pct(target["target"]) if target else None,
            "meets_target": (None if target is None or basic is None
                             else basic >= target["target"]),
            "target_source": target["note"] if target else "；".join(
                str(t["note"]) for t in s.target)})
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        if not rows:
            f.write("\n")
            return
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


__all__ = ["Simulation", "run_simulation"]

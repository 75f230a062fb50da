"""A synthetic province: persons and a year of claims, for benchmarks and what-if analysis.

The profile of a province (``profiles/<code>.yaml``) says where each figure comes from:
the assistance categories of Shanxi use the head-counts printed in
002_e6e604b5a3b60eed.txt (1.118 M 低保, 129 k 特困, 320.8 k 低收入), scaled to ``N``
persons against a population figure that is marked as an example; everything else
(insurance types, ages, visit rates, the lognormal cost distributions by ``med_type`` and
``hosp_lv``, the shares F, P, O of each cost) is an example assumption of the generator.
The data are synthetic: no real person is described, and a report on them says so.

Deterministic by seed (``numpy.random.Generator``, PCG64); vectorised, so millions of rows
take seconds. Writes ``persons.parquet`` and ``claims.parquet`` (or ``.csv``) in the
columns of SETTLEMENT.md (money as decimal(14, 2); ``categories`` ``|``-separated keys).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import yaml

from minsheng.core.errors import InputError
from minsheng.core.regions import children

PROVINCES = ("140000", "220000")
MED_TYPES = (11, 14, 21)
CATEGORY_ORDER = ("extreme_poverty", "minimum_allowance", "relapsed_poverty", "monitored",
                  "marginal_allowance", "illness_impoverished", "lifted_from_poverty")


@cache
def profile(province: str) -> dict[str, Any]:
    """The generator's assumptions for a province, with their references."""
    if province not in PROVINCES:
        raise InputError("--province", f"没有该省的合成数据配置：{province}（可用：{'、'.join(PROVINCES)}）",
                         "no synthetic profile for this province")
    text = resources.files("minsheng.batch").joinpath(f"profiles/{province}.yaml").read_text("utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def profile_notes(province: str) -> list[str]:
    """Each figure of the profile with its source, examples marked (for reports)."""
    p = profile(province)
    notes = []
    pop = p["population"]
    notes.append(_note("人口", pop["value"], pop))
    for key, spec in p["categories"].items():
        notes.append(_note(key, spec["value"], spec))
    a = p["assumptions"]
    notes.append(f"职工占比、年龄结构、就诊频次与费用分布：{a['reference']['note']}")
    return notes


def _note(name: str, value: Any, spec: dict[str, Any]) -> str:
    ref = spec["reference"]
    mark = "【示例值】" if spec.get("example") else ""
    cite = "，".join(str(ref[k]) for k in ("source", "clause", "note") if ref.get(k))
    return f"{mark}{name} = {value}（{cite}）"


def leaf_regions(province: str) -> list[str]:
    """County-level codes under the province's cities (regions.csv); a city without any: itself."""
    leaves: list[str] = []

    def walk(code: str) -> None:
        kids = children(code)
        if not kids:
            leaves.append(code)
        for k in sorted(kids, key=lambda r: r.code):
            walk(k.code)

    for city in sorted(children(province), key=lambda r: r.code):
        walk(city.code)
    return leaves or [province]


@dataclass
class Synthetic:
    persons: pl.DataFrame
    claims: pl.DataFrame


def generate(n_persons: int, seed: int, province: str = "140000", year: int = 2023) -> Synthetic:
    """``n_persons`` synthetic persons of ``province`` and their claims in ``year``."""
    if n_persons < 1:
        raise InputError("--persons", "人数应为正整数", "the number of persons must be positive")
    if not 2000 <= year <= 2100:
        raise InputError("--year", "年份应在 2000 到 2100 之间", "year out of range")
    p = profile(province)
    a = p["assumptions"]
    rng = np.random.default_rng(seed)
    n = n_persons

    # persons: age, category (one or none, in the printed proportions), insurance type, region
    bands = np.array(a["age_bands"], dtype=np.float64)
    band = rng.choice(len(bands), size=n, p=bands[:, 2] / bands[:, 2].sum())
    age = (bands[band, 0] + rng.random(n) * (bands[band, 1] - bands[band, 0] + 1)).astype(np.int16)
    population = float(p["population"]["value"])
    keys = [k for k in CATEGORY_ORDER if k in p["categories"]]
    shares = np.array([p["categories"][k]["value"] / population for k in keys])
    cat = rng.choice(len(keys) + 1, size=n, p=np.r_[shares, 1.0 - shares.sum()])
    cat_text = np.array([*keys, ""], dtype=object)[cat]
    employee = (rng.random(n) < a["employee_share"]) & (age >= 18) & (cat == len(keys))
    regions = np.array([int(r) for r in leaf_regions(province)], np.int64)
    region = regions[rng.integers(0, len(regions), n)]
    width = max(9, len(str(n - 1)))
    persons = pl.DataFrame({
        "psn_no": _ids("P", n, width),
        "insutype": np.where(employee, "310", "390"),
        "region": pl.Series(region).cast(pl.String),
        "categories": pl.Series(cat_text, dtype=pl.String),
        "age": age,
    })

    # claims per person and type: visit rates rise with age; chronic visits only for the chronically ill
    factor = np.array(a["visit_factor"])[band]
    chronic = rng.random(n) < np.array(a["chronic_prevalence"])[band]
    counts = np.stack([
        rng.poisson(a["outpatient_per_year"] * factor),
        np.where(chronic, rng.poisson(a["chronic_visits_per_year"], n), 0),
        rng.poisson(a["inpatient_per_year"] * factor),
    ], axis=1)
    person = np.repeat(np.repeat(np.arange(n), 3), counts.ravel())
    kind = np.repeat(np.tile(np.arange(3), n), counts.ravel())
    m = len(person)
    med_type = np.array(MED_TYPES, np.int8)[kind]
    lv = np.zeros(m, np.int8)
    median = np.zeros(m)
    sigma = np.zeros(m)
    shares_f = np.zeros(m)
    shares_p = np.zeros(m)
    shares_o = np.zeros(m)
    in_prov_p = np.zeros(m)
    for k, mt in enumerate(MED_TYPES):
        sel = kind == k
        key = str(mt)
        lv[sel] = rng.choice(4, size=int(sel.sum()), p=a["hosp_lv"][key])
        median[sel] = np.array(a["cost_median"][key], np.float64)[lv[sel]]
        sigma[sel] = a["cost_sigma"][key]
        shares_f[sel] = a["fulamt_share"][key]
        shares_p[sel] = a["preselfpay_share"][key]
        shares_o[sel] = a["overlmt_share"][key]
        in_prov_p[sel] = a["in_province"][key]
    total = np.maximum(np.rint(median * 100 * np.exp(sigma * rng.standard_normal(m))), 100)
    total = np.minimum(total, 5e8).astype(np.int64)
    f = np.floor(total * _share(rng, shares_f)).astype(np.int64)
    pp = np.floor(total * _share(rng, shares_p)).astype(np.int64)
    o = np.floor(total * _share(rng, shares_o)).astype(np.int64)
    excess = np.maximum(f + pp + o - total, 0)
    f -= np.minimum(f, excess)
    in_province = rng.random(m) < in_prov_p
    start = int(dt.datetime(year, 1, 1).timestamp() - dt.datetime(1970, 1, 1).timestamp())
    seconds = 366 * 86400 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 365 * 86400
    t = start + rng.integers(0, seconds, m)
    order = np.argsort(t, kind="stable")
    claims = pl.DataFrame({
        "setl_id": _ids(f"C{year}", m, 10),
        "psn_no": persons["psn_no"].gather(person[order]),
        "setl_time": pl.Series(t[order] * 1_000_000).cast(pl.Datetime("us")),
        "med_type": med_type[order], "hosp_lv": lv[order], "in_province": in_province[order],
        **{name: _decimal(v[order]) for name, v in (("medfee_sumamt", total),
                                                     ("fulamt_ownpay_amt", f),
                                                     ("preselfpay_amt", pp),
                                                     ("overlmt_selfpay", o))},
    })
    return Synthetic(persons, claims)


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    """``prefix`` followed by 0 … n−1, zero-padded to ``width`` digits."""
    digits = (pl.int_range(n, dtype=pl.Int64) + 10**width).cast(pl.String).str.slice(1)
    return pl.select(pl.lit(prefix) + digits).to_series()


def _share(rng: np.random.Generator, mean: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A share of the cost, uniform on [0, 2 × ``mean``] (so its mean is ``mean``)."""
    return rng.random(len(mean)) * 2 * mean


def _decimal(fen: npt.NDArray[np.int64]) -> pl.Series:
    """Fen (≥ 0) as decimal(14, 2) yuan, built from the unscaled integers (exact)."""
    words = np.zeros((len(fen), 2), np.int64)
    words[:, 0] = fen
    array = pa.Array.from_buffers(pa.decimal128(14, 2), len(fen),
                                  [None, pa.py_buffer(words)])
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series


def write(data: Synthetic, out: Path, fmt: str = "parquet") -> dict[str, str]:
    """Write ``persons`` and ``claims`` into ``out`` as Parquet or CSV; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in (("persons", data.persons), ("claims", data.claims)):
        if fmt == "csv":
            path = out / f"{name}.csv"
            if name == "claims":
                frame = frame.with_columns(pl.col("setl_time").dt.strftime("%Y-%m-%dT%H:%M:%S"))
            frame.write_csv(path)
        elif fmt == "parquet":
            path = out / f"{name}.parquet"
            frame.write_parquet(path, compression="lz4", row_group_size=1 << 20)
        else:
            raise InputError("--format", "格式应为 parquet 或 csv", "format must be parquet or csv")
        paths[name] = str(path)
    return paths

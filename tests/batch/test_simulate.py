"""Simulation: baseline vs reform through the same kernel, with an HTML report and CSV tables."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import polars as pl
import pytest
from batch_helpers import Population
from typer.testing import CliRunner

from minsheng.batch import local
from minsheng.batch.simulate import run_simulation
from minsheng.cli import app
from minsheng.core.money import parse_fen

REFORM = {"medical.assistance.minimum_allowance.inpatient_ratio": 0.85}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def shanxi_sim(shanxi: Population, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "report"
    run_simulation(shanxi.claims, shanxi.persons, out, reform=REFORM, chunk_rows=1500)
    return out


def test_the_baseline_is_what_batch_settlement_pays(
        shanxi: Population, shanxi_sim: Path, tmp_path: Path) -> None:
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "out",
                      person_years=tmp_path / "py")
    settled = pl.read_parquet(tmp_path / "out")
    summary = json.loads((shanxi_sim / "summary.json").read_text())
    for tier in ("hifp_pay", "hifmi_pay", "maf_pay"):
        total = sum(parse_fen(v) for v in settled[tier])
        assert parse_fen(summary["baseline"]["fund"][tier]) == total, tier
    years = pl.read_parquet(tmp_path / "py")
    counts = years["watch_list"].value_counts()
    by_list = {r["watch_list"]: r["count"] for r in counts.iter_rows(named=True)}
    assert summary["baseline"]["watch_list"]["relapse_watch"] == by_list.get("relapse_watch", 0)
    assert summary["baseline"]["watch_list"]["impoverish_watch"] == by_list.get("impoverish_watch", 0)
    assert summary["person_years"] == years.height


def test_a_simulation_in_two_processes_reports_what_one_process_reports(
        shanxi: Population, shanxi_sim: Path, tmp_path: Path) -> None:
    run_simulation(shanxi.claims, shanxi.persons, tmp_path / "two", reform=REFORM,
                   chunk_rows=1500, workers=2)
    one, two = (json.loads((d / "summary.json").read_text()) for d in (shanxi_sim, tmp_path / "two"))
    assert {k: v for k, v in one.items() if k not in ("seconds", "report")} == \
        {k: v for k, v in two.items() if k not in ("seconds", "report")}
    for table in sorted(p.name for p in shanxi_sim.glob("*.csv")):
        assert rows(shanxi_sim / table) == rows(tmp_path / "two" / table), table


def test_raising_the_minimum_allowance_ratio_raises_only_their_assistance(shanxi_sim: Path) -> None:
    by_category = {(r["insutype"], r["category"]): r for r in rows(shanxi_sim / "outlay_by_category.csv")}
    dibao = by_category[("城乡居民", "低保对象")]
    assert parse_fen(dibao["maf_pay_change"]) > 0
    assert dibao["hifp_pay_change"] == dibao["hifmi_pay_change"] == "0.00"
    for key, row in by_category.items():
        if key != ("城乡居民", "低保对象"):
            assert row["maf_pay_change"] == "0.00", key


def test_the_report_is_chinese_self_contained_and_flags_example_values(shanxi_sim: Path) -> None:
    html = (shanxi_sim / "report.html").read_text()
    assert '<html lang="zh-CN">' in html
    assert html.count("<svg") == 3
    assert not re.search(r"<(script|link)\b", html)
    assert "示例值" in html and "medical.basic.resident.inpatient.ratio.lv3" in html
    assert "医疗救助" in html and "个人负担分布" in html
    assert "inpatient_payment_ratio_target" in html  # not encoded for Shanxi: said so


def test_burden_percentiles_and_the_inpatient_ratio_are_tabulated(shanxi_sim: Path) -> None:
    stats = {r["statistic"]: r for r in rows(shanxi_sim / "burden_percentiles.csv")}
    assert parse_fen(stats["p50"]["baseline"]) <= parse_fen(stats["p90"]["baseline"]) \
        <= parse_fen(stats["max"]["baseline"])
    assert parse_fen(stats["p99"]["reform"]) <= parse_fen(stats["p99"]["baseline"])
    ratio = rows(shanxi_sim / "inpatient_ratio.csv")
    assert [r["scenario"] for r in ratio] == ["baseline", "reform"]
    assert ratio[0]["basic_ratio"] == ratio[1]["basic_ratio"]
    assert float(ratio[1]["all_funds_ratio"].rstrip("%")) > float(ratio[0]["all_funds_ratio"].rstrip("%"))


def test_jilin_fiscal_liability_is_the_subsidy_split_times_the_resident_head_count(
        jilin: Population, tmp_path: Path) -> None:
    reform = tmp_path / "reform.json"
    reform.write_text(json.dumps({"medical.financing.resident.fiscal_subsidy.total": "610.00"}))
    result = CliRunner().invoke(app, ["simulate", "--claims", str(jilin.claims), "--persons",
                                      str(jilin.persons), "--reform", str(reform), "--out",
                                      str(tmp_path / "sim"), "-q"])
    assert result.exit_code == 0, result.output
    persons = pl.read_parquet(jilin.persons).filter(pl.col("insutype") == "390")
    heads = {r["region"]: r["len"] for r in persons.group_by("region").len().iter_rows(named=True)}
    fiscal = rows(tmp_path / "sim" / "fiscal_liability.csv")
    base = {r["region"]: r for r in fiscal if r["scenario"] == "baseline"}
    reformed = {r["region"]: r for r in fiscal if r["scenario"] == "reform"}
    assert set(base) == set(heads)
    for region, n in heads.items():
        assert parse_fen(base[region]["liability_total"]) == 58000 * n
        assert parse_fen(reformed[region]["liability_total"]) == 61000 * n
        parts = sum(parse_fen(base[region][f"liability_{k}"]) for k in ("central", "provincial", "local"))
        assert parts == 58000 * n
    yanbian = [r for r in base if r.startswith("2224")]
    assert yanbian and all(parse_fen(base[r]["liability_central"]) == 46400 * heads[r] for r in yanbian)
    ratio = rows(tmp_path / "sim" / "inpatient_ratio.csv")[0]
    assert ratio["target"] == "70.00%"
    assert "004_2cc05c92617d4cf3.txt" in ratio["target_source"]
    watch = {r["list"]: r for r in rows(tmp_path / "sim" / "watch_list.csv")}
    assert int(watch["unknown"]["baseline"]) > 0  # Jilin encodes no watch-list thresholds: not guessed

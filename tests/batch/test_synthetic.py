"""The synthetic province: deterministic by seed, in the proportions the seeds print."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from typer.testing import CliRunner

from minsheng.batch import synthetic
from minsheng.cli import app
from minsheng.core.regions import is_within


def test_the_same_seed_gives_the_same_province_and_another_seed_another() -> None:
    a, b, c = (synthetic.generate(2000, seed) for seed in (7, 7, 8))
    assert a.persons.equals(b.persons) and a.claims.equals(b.claims)
    assert not a.claims.equals(c.claims)


def test_shanxi_assistance_categories_follow_the_printed_head_counts() -> None:
    persons = synthetic.generate(100_000, 1).persons
    counts = persons["categories"].value_counts()
    share = {r["categories"]: r["count"] / 100_000 for r in counts.iter_rows(named=True)}
    population = 34_810_000  # the example population figure of profiles/140000.yaml
    for key, printed in (("minimum_allowance", 1_118_000), ("extreme_poverty", 129_000),
                         ("marginal_allowance", 320_800)):
        expected = printed / population
        assert abs(share[key] - expected) < 0.12 * expected, key
    assert share["minimum_allowance"] > 8 * share["extreme_poverty"]


def test_persons_live_in_counties_of_the_province_and_assisted_persons_are_residents() -> None:
    persons = synthetic.generate(3000, 2, "220000", 2021).persons
    assert all(is_within(r, "220000") and r != "220000" for r in persons["region"].unique())
    assisted = persons.filter(pl.col("categories") != "")
    assert set(assisted["insutype"]) == {"390"}
    assert set(persons["insutype"]) == {"390", "310"}


def test_claims_are_valid_and_inpatient_costs_far_exceed_outpatient_costs() -> None:
    claims = synthetic.generate(20_000, 3).claims
    fen = {k: (claims[k].cast(pl.Float64) * 100).round().cast(pl.Int64).to_numpy()
           for k in ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")}
    assert (fen["fulamt_ownpay_amt"] + fen["preselfpay_amt"] + fen["overlmt_selfpay"]
            <= fen["medfee_sumamt"]).all()
    assert min(v.min() for v in fen.values()) >= 0
    med = claims["med_type"].to_numpy()
    inpatient = np.median(fen["medfee_sumamt"][med == 21])
    outpatient = np.median(fen["medfee_sumamt"][med == 11])
    assert inpatient > 20 * outpatient
    assert (med == 11).sum() > 5 * (med == 21).sum()
    assert claims["setl_id"].is_unique().all()
    assert claims["setl_time"].dt.year().unique().to_list() == [2023]


def test_the_synth_command_writes_csv_files_and_cites_its_sources(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--persons", "500", "--seed", "4", "--out",
                                      str(tmp_path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "002_e6e604b5a3b60eed.txt" in result.output and "示例" in result.output
    claims = pl.read_csv(tmp_path / "claims.csv", infer_schema=False)
    assert claims["setl_time"][0][10] == "T"
    assert claims.columns[:3] == ["setl_id", "psn_no", "setl_time"]


def test_an_unknown_province_is_an_error_naming_the_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--persons", "5", "--seed", "1", "--out",
                                      str(tmp_path), "--province", "110000"])
    assert result.exit_code == 2
    assert "--province" in result.output

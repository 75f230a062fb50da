"""Every engine gives the same fen on the same claims: the local engine, Spark, and the
service settling the claims one by one with carried accumulators (CONTRACT.md "Batch")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from batch_helpers import Population, read_output

from minsheng.batch import local
from minsheng.batch import spark as spark_engine
from minsheng.batch.chunks import PERSON_YEAR_SCHEMA
from minsheng.batch.columns import CAP_ROOMS
from minsheng.core.categories import parse_categories
from minsheng.core.errors import InputError
from minsheng.service.kernel import OUTPUTS, settle_one
from minsheng.settle.parse import parse_claim

REFORM = {"medical.assistance.minimum_allowance.inpatient_ratio": 0.9,
          "medical.critical.resident.deductible": "8000.00",
          "medical.basic.resident.inpatient.annual_cap": None}


def _service_one_by_one(pop: Population, who: set[str]) -> dict[str, dict[str, str]]:
    """Settle each claim of ``who`` alone through the service's kernel door, carrying the
    person-year's accumulators from one claim to the next, as the service does."""
    persons = {r["psn_no"]: r for r in pl.read_parquet(pop.persons).iter_rows(named=True)}
    claims = pl.read_parquet(pop.claims).filter(pl.col("psn_no").is_in(sorted(who))).sort(
        ["psn_no", "setl_time", "setl_id"])
    accumulators: dict[tuple[str, int], dict[str, int]] = {}
    out: dict[str, dict[str, str]] = {}
    for row in claims.iter_rows(named=True):
        raw = {**row, "setl_time": row["setl_time"].isoformat(), "med_type": str(row["med_type"]),
               **{k: str(row[k]) for k in ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt",
                                           "overlmt_selfpay")}}
        claim = parse_claim(raw)
        person = persons[claim.psn_no]
        key = (claim.psn_no, claim.setl_time.year)
        categories = parse_categories((person["categories"] or "").replace("|", ","))
        result = settle_one(claim, person["insutype"], person["region"], categories,
                            accumulators.get(key, {}))
        accumulators[key] = result.accumulators
        out[claim.setl_id] = {k: result.reply[k] for k in OUTPUTS}
    return out


def test_the_local_engine_gives_the_same_fen_as_the_service_settling_claims_one_by_one(
        shanxi: Population, tmp_path: Path) -> None:
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "out", chunk_rows=400, workers=1)
    batch = read_output(tmp_path / "out")
    paid = batch.filter((pl.col("hifmi_pay") != "0.00") | (pl.col("maf_pay") != "0.00"))
    who = set(paid["psn_no"]) | set(batch["psn_no"].unique().sort()[:80])
    assert paid.filter(pl.col("hifmi_pay") != "0.00").height > 0  # every tier is exercised
    assert paid.filter(pl.col("maf_pay") != "0.00").height > 0
    service = _service_one_by_one(shanxi, who)
    batch = batch.filter(pl.col("psn_no").is_in(sorted(who)))
    assert batch.height == len(service) > 300
    for row in batch.iter_rows(named=True):
        assert {k: row[k] for k in OUTPUTS} == service[row["setl_id"]], row["setl_id"]


def test_csv_and_parquet_inputs_of_the_same_claims_settle_alike(
        shanxi: Population, shanxi_csv: Population, tmp_path: Path) -> None:
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "pq")
    local.settle_file(shanxi_csv.claims, shanxi_csv.persons, tmp_path / "csv")
    assert read_output(tmp_path / "pq").equals(read_output(tmp_path / "csv"))


def test_parameter_overrides_change_the_outputs_the_same_way_locally_and_on_spark(
        shanxi: Population, tmp_path: Path, spark: Any) -> None:
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "base")
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "local", overrides=REFORM,
                      chunk_rows=300, workers=2, person_years=tmp_path / "local_py")
    summary = spark_engine.settle_file(shanxi.claims, shanxi.persons, tmp_path / "spark",
                                overrides=REFORM, spark=spark, person_years=tmp_path / "spark_py")
    base, loc, spk = (read_output(tmp_path / d) for d in ("base", "local", "spark"))
    assert loc.equals(spk)
    assert read_output(tmp_path / "local_py").equals(read_output(tmp_path / "spark_py"))
    assert not loc.equals(base)
    assert summary.rows == loc.height
    assert any("示例值" in w for w in summary.warnings)


def test_spark_settles_claims_checked_in_two_processes_as_the_local_engine_does(
        shanxi: Population, tmp_path: Path, spark: Any) -> None:
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "local", workers=1)
    with pytest.raises(InputError, match="--compression"):
        spark_engine.settle_file(shanxi.claims, shanxi.persons, tmp_path / "x", spark=spark,
                                 compression="gzip")
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    spark_engine.settle_file(shanxi.claims, shanxi.persons, tmp_path / "spark", spark=spark,
                             compression="zstd", workers=2)
    assert read_output(tmp_path / "local").equals(read_output(tmp_path / "spark"))
    assert spark.conf.get("spark.sql.shuffle.partitions") == partitions  # the session as it was
    parts = list((tmp_path / "spark").iterdir())
    assert parts and all(p.suffix == ".parquet" for p in parts)
    assert {pq.ParquetFile(p).metadata.row_group(0).column(2).compression for p in parts} == {"ZSTD"}
    assert _optional_columns(tmp_path / "local") == _optional_columns(tmp_path / "spark") \
        == set(CAP_ROOMS)  # the rest stored without definition levels, by either engine


def _optional_columns(folder: Path) -> set[str]:
    """The columns a folder's Parquet parts declare as optional (that may be empty)."""
    return {c.name for p in folder.glob("*.parquet") for c in pq.ParquetFile(p).schema
            if c.max_definition_level > 0}


def test_person_year_totals_add_up_the_claims(shanxi: Population, tmp_path: Path) -> None:
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "c",
                      person_years=tmp_path / "py")
    claims = read_output(tmp_path / "c").with_columns(
        pl.col(k).cast(pl.Decimal(14, 2)) for k in ("hifp_pay", "maf_pay", "psn_part_amt"))
    years = read_output(tmp_path / "py").with_columns(
        pl.col(k).cast(pl.Decimal(14, 2)) for k in ("hifp_pay", "maf_pay", "psn_part_amt"))
    sums = claims.group_by("psn_no").agg(pl.col("hifp_pay", "maf_pay", "psn_part_amt").sum()).sort("psn_no")
    assert sums.equals(years.select("psn_no", "hifp_pay", "maf_pay", "psn_part_amt").sort("psn_no"))
    burden = years["psn_part_amt"].cast(pl.Float64).to_numpy()
    watch = years["watch_list"].to_list()
    relapse = np.array([w == "relapse_watch" for w in watch])
    assert (burden[relapse] > 6000).all()
    assert set(watch) <= {"relapse_watch", "impoverish_watch", "none"}


def test_the_params_file_may_hold_a_parameters_object_or_the_overrides_themselves(tmp_path: Path) -> None:
    from minsheng.batch.overrides import load_overrides

    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps({"parameters": REFORM}))
    b.write_text(json.dumps(REFORM))
    assert load_overrides(a) == load_overrides(b) == REFORM


def test_where_the_watch_list_is_not_encoded_it_is_left_empty_with_one_warning(
        jilin: Population, tmp_path: Path) -> None:
    summary = local.settle_file(jilin.claims, jilin.persons, tmp_path / "c", chunk_rows=600,
                                person_years=tmp_path / "py")
    years = read_output(tmp_path / "py")
    assert years["watch_list"].null_count() == years.height > 0
    missing = [w for w in summary.warnings if w.startswith("监测名单未计算")]
    assert len(missing) == 1
    assert "medical.monitoring." in missing[0] and "220102" in missing[0]


def test_spark_spreads_the_groups_of_persons_over_two_partitions_per_core() -> None:
    assert spark_engine.layout(1_000_000, 2) == (4, 16)  # four groups per partition at least
    assert spark_engine.layout(10_000_000, 2) == (4, 50)  # groups of at most 200,000 claims
    assert spark_engine.layout(10_000_000, 64) == (128, 512)
    assert spark_engine.layout(0, 1) == (2, 8)


def test_a_retried_spark_task_rewrites_its_person_year_part_instead_of_adding_one(
        tmp_path: Path) -> None:
    import pyarrow as pa

    columns = {f.name: pa.array(["1.00", "2.00"]) for f in PERSON_YEAR_SCHEMA}
    columns["year"] = pa.array([2023, 2023], pa.int32())
    first = pa.table(columns)
    again = pa.table({**columns, "psn_no": pa.array(["P1", "P2"], pa.large_string())})
    spark_engine.write_group_part(first, tmp_path, 7, "none")
    spark_engine.write_group_part(again, tmp_path, 7, "zstd")  # the same group, a second attempt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-g00007.parquet"]
    written = pq.read_table(tmp_path / "part-g00007.parquet")
    assert written.schema.equals(PERSON_YEAR_SCHEMA)
    assert written.column("psn_no").to_pylist() == ["P1", "P2"]

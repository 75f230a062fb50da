"""Bad rows are reported by row number and field, with a count; a file with a bad row
settles none and leaves nothing behind (exit status 2 on the command line)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from minsheng.batch import local
from minsheng.batch.bad_rows import BadRows
from minsheng.cli import app
from minsheng.core.errors import InputError, ParameterMissing

PERSONS = [
    {"psn_no": "P1", "insutype": "390", "region": "140105", "categories": "低保对象"},
    {"psn_no": "P2", "insutype": "310", "region": "140100", "categories": ""},
    {"psn_no": "P3", "insutype": "390", "region": "140181", "categories": "extreme_poverty|orphan"},
]


def claim(i: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "setl_id": f"S{i:03d}", "psn_no": PERSONS[i % 3]["psn_no"],
        "setl_time": f"2023-03-{1 + i % 28:02d}T09:30:00", "med_type": "21", "hosp_lv": "2",
        "in_province": "true", "medfee_sumamt": "12000.00", "fulamt_ownpay_amt": "500.00",
        "preselfpay_amt": "300.5", "overlmt_selfpay": "0"}
    row.update({k: str(v) for k, v in changes.items()})
    return row


def write(tmp_path: Path, claims: list[dict[str, object]], persons: list[dict[str, str]] = PERSONS
          ) -> tuple[Path, Path]:
    c, p = tmp_path / "claims.csv", tmp_path / "persons.csv"
    pl.DataFrame(claims, schema={k: pl.String for k in claims[0]}).write_csv(c)
    pl.DataFrame(persons).write_csv(p)
    return c, p


def bad_rows(tmp_path: Path, claims: list[dict[str, object]],
             persons: list[dict[str, str]] = PERSONS) -> BadRows:
    c, p = write(tmp_path, claims, persons)
    with pytest.raises(BadRows) as err:
        local.settle_file(c, p, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "a file with a bad row settles none"
    return err.value


@pytest.mark.parametrize(("field", "value", "words"), [
    ("medfee_sumamt", "-5.00", "不能为负"),
    ("preselfpay_amt", "1.234", "最多两位小数"),
    ("fulamt_ownpay_amt", "abc", "不是金额"),
    ("med_type", "31", "医疗类别"),
    ("hosp_lv", "4", "医院等级"),
    ("in_province", "yes", "true 或 false"),
    ("setl_time", "2023-02-30T10:00:00", "YYYY-MM-DDTHH:MM:SS"),
    ("setl_time", "2023-08-01T07:30:00+08:00", "不带时区"),
    ("psn_no", "P9", "未知参保人"),
])
def test_a_bad_value_is_reported_with_its_row_and_field(
        tmp_path: Path, field: str, value: str, words: str) -> None:
    claims = [claim(i) for i in range(10)]
    claims[6] = claim(6, **{field: value})
    err = bad_rows(tmp_path, claims)
    assert err.count == 1
    assert (err.rows[0].row, err.rows[0].field) == (7, field)
    assert words in err.message
    assert "第 7 行" in err.message


def test_costs_outside_the_catalog_may_not_exceed_the_total(tmp_path: Path) -> None:
    claims = [claim(i) for i in range(4)]
    claims[2] = claim(2, medfee_sumamt="100.00", fulamt_ownpay_amt="60.00", preselfpay_amt="50.00")
    err = bad_rows(tmp_path, claims)
    assert (err.rows[0].row, err.rows[0].field) == (3, "medfee_sumamt")
    assert "超过医疗费总额" in err.message


def test_a_repeated_settlement_id_names_both_rows(tmp_path: Path) -> None:
    claims = [claim(i) for i in range(5)]
    claims[4] = claim(4, setl_id="S001")
    err = bad_rows(tmp_path, claims)
    assert (err.rows[0].row, err.rows[0].field) == (5, "setl_id")
    assert "与第 2 行相同" in err.message


@pytest.mark.parametrize("workers", [1, 2])
def test_repeated_settlement_ids_are_found_across_pieces_of_the_file(tmp_path: Path,
                                                                     workers: int) -> None:
    # row groups of 40 rows: the repeats lie in other pieces (and worker processes) than
    # the first rows; a padded id repeats the unpadded one
    claims = [claim(i, setl_id=f"X{i:04d}") for i in range(200)]
    claims[150] = claim(150, setl_id="X0003")
    claims[170] = claim(170, setl_id=" X0003 ")
    claims[199] = claim(199, setl_id="X0120")
    c, p = write(tmp_path, claims)
    parquet = tmp_path / "claims.parquet"
    pl.read_csv(c, infer_schema=False).write_parquet(parquet, row_group_size=40)
    with pytest.raises(BadRows) as err:
        local.settle_file(parquet, p, tmp_path / "out", workers=workers)
    assert err.value.count == 3
    assert [(r.row, r.field) for r in err.value.rows] == [(151, "setl_id"), (171, "setl_id"),
                                                         (200, "setl_id")]
    assert "与第 4 行相同" in err.value.rows[1].zh and "与第 121 行相同" in err.value.rows[2].zh


def test_many_bad_rows_are_counted_and_the_first_twenty_shown(tmp_path: Path) -> None:
    claims = [claim(i, medfee_sumamt="-1") if i % 2 else claim(i) for i in range(70)]
    err = bad_rows(tmp_path, claims)
    assert err.count == 35
    assert len(err.rows) == 20
    assert [r.row for r in err.rows] == list(range(2, 42, 2))
    assert "共 35 行" in err.message


@pytest.mark.parametrize(("field", "value", "words"), [
    ("categories", "低保对象|富豪", "救助对象类别"),
    ("region", "999999", "地区代码"),
    ("insutype", "320", "险种"),
    ("psn_no", "P1 ", "个人编号重复"),  # (the first person's id, once stripped)
])
def test_a_bad_person_is_reported_with_its_row_and_field(
        tmp_path: Path, field: str, value: str, words: str) -> None:
    persons = [dict(p) for p in PERSONS]
    persons[1][field] = value
    err = bad_rows(tmp_path, [claim(i) for i in range(3)], persons)
    assert (err.rows[0].table, err.rows[0].row, err.rows[0].field) == ("persons", 2, field)
    assert words in err.message


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    rows = [{k: v for k, v in claim(i).items() if k != "hosp_lv"} for i in range(3)]
    c, p = write(tmp_path, rows)
    with pytest.raises(InputError) as err:
        local.settle_file(c, p, tmp_path / "out")
    assert err.value.field == "claims.hosp_lv"


def test_a_claim_date_without_encoded_parameters_settles_nothing(tmp_path: Path) -> None:
    claims = [claim(i) for i in range(5)]
    claims[3] = claim(3, setl_time="2019-05-01T10:00:00")
    c, p = write(tmp_path, claims)
    with pytest.raises(ParameterMissing) as err:
        local.settle_file(c, p, tmp_path / "out")
    assert "2019" in err.value.message
    assert not (tmp_path / "out").exists()


def test_the_command_exits_with_status_2_and_names_row_and_field(tmp_path: Path) -> None:
    claims = [claim(i) for i in range(5)]
    claims[1] = claim(1, overlmt_selfpay="-0.01")
    c, p = write(tmp_path, claims)
    result = CliRunner().invoke(app, ["batch", "settle", str(c), "--persons", str(p),
                                      "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2
    assert "第 2 行 overlmt_selfpay" in result.output
    assert not (tmp_path / "out").exists()


def test_a_good_file_settles_through_the_command_line(tmp_path: Path) -> None:
    c, p = write(tmp_path, [claim(i) for i in range(9)])
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"medical.assistance.minimum_allowance.annual_cap": None}))
    result = CliRunner().invoke(app, ["batch", "settle", str(c), "--persons", str(p), "--out",
                                      str(tmp_path / "out"), "--params", str(params), "--json", "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["rows"] == 9
    out = pl.read_parquet(tmp_path / "out").sort("setl_id")
    first = out.row(0, named=True)
    assert first["setl_id"] == "S000" and first["inscp_scp_amt"] == "11199.50"
    assert all(len(v.split(".")[1]) == 2 for v in out["psn_part_amt"])


def test_an_unknown_parameter_in_the_params_file_is_named(tmp_path: Path) -> None:
    c, p = write(tmp_path, [claim(i) for i in range(3)])
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"medical.no.such": 1}))
    result = CliRunner().invoke(app, ["batch", "settle", str(c), "--persons", str(p), "--out",
                                      str(tmp_path / "out"), "--params", str(params), "-q"])
    assert result.exit_code == 2
    assert "medical.no.such" in result.output


def test_the_spark_engine_checks_the_same_way_before_starting_spark(tmp_path: Path) -> None:
    from minsheng.batch import spark as spark_engine

    claims = [claim(i) for i in range(6)]
    claims[5] = claim(5, hosp_lv="9")
    c, p = write(tmp_path, claims)
    with pytest.raises(BadRows) as err:
        spark_engine.settle_file(c, p, tmp_path / "out", spark=object())
    assert (err.value.rows[0].row, err.value.rows[0].field) == (6, "hosp_lv")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["claims.csv", "persons.csv"]


def test_the_spark_engine_checking_in_two_processes_names_the_same_bad_row(tmp_path: Path) -> None:
    from minsheng.batch import spark as spark_engine

    claims = [claim(i) for i in range(6)]
    claims[5] = claim(5, hosp_lv="9")
    c, p = write(tmp_path, claims)
    parquet = tmp_path / "claims.parquet"
    pl.read_csv(c, infer_schema=False).write_parquet(parquet)
    c.unlink()
    with pytest.raises(BadRows) as err:
        spark_engine.settle_file(parquet, p, tmp_path / "out", spark=object(), workers=2)
    assert (err.value.rows[0].row, err.value.rows[0].field) == (6, "hosp_lv")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["claims.parquet", "persons.csv"]


def test_a_file_that_cannot_be_read_is_an_error_naming_it(tmp_path: Path) -> None:
    c, p = write(tmp_path, [claim(i) for i in range(3)])
    c.write_text(c.read_text().rstrip("\n") + "\nS9,P1,2023-03-01T09:00:00,21\n")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    for path in (c, broken):
        with pytest.raises(InputError) as err:
            local.settle_file(path, p, tmp_path / "out")
        assert path.name in err.value.message
        assert not (tmp_path / "out").exists()


def test_a_file_with_no_claims_settles_to_an_empty_table(tmp_path: Path) -> None:
    c, p = write(tmp_path, [claim(0)])
    c.write_text(c.read_text().splitlines()[0] + "\n")
    summary = local.settle_file(c, p, tmp_path / "out", person_years=tmp_path / "py")
    assert summary.rows == 0
    assert pl.read_parquet(tmp_path / "out").height == 0
    assert "hifp_pay" in pl.read_parquet(tmp_path / "out").columns

"""Watch lists (因病返贫致贫监测, POLICY.md §3.5, 002_e6e604b5a3b60eed.txt) computed from the
stored settlements, dated, and exported as CSV and XLSX for the civil affairs, health and
rural revitalisation departments. Expected lists come from the ``watch_list`` calculation
run on the person's burden, never from hard-coded thresholds."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from casework_helpers import TAIYUAN, Casework, fen

from minsheng.core.calculation import run
from minsheng.core.money import format_fen

BIG = {"total": "60000.00", "ownpay": "8000.00", "preself": "2000.00"}


def listing(cw: Casework, day: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    return cw.get("/api/v1/watch-lists", headers or cw.agency_shanxi, date=day,
                  region=params.pop("region", "140000"), **params)


def mine(data: dict[str, Any], people: list[str]) -> dict[str, dict[str, Any]]:
    return {r["psn_no"]: r for r in data["persons"] if r["psn_no"] in people}


def expected(cw: Casework, psn_no: str, day: str, categories: list[str]) -> tuple[str, int]:
    burden = fen(cw.get(f"/api/v1/persons/{psn_no}/accumulators", year=day[:4]).json(),
                 "psn_part_amt")
    out = run("watch_list", date=day, region=TAIYUAN,
              inputs={"categories": categories,
                      "annual_personal_burden": format_fen(burden)}).outputs
    return out["list"], burden


def test_the_lists_follow_the_watch_list_rule_on_each_person_years_burden(cw: Casework) -> None:
    poor = cw.person(TAIYUAN, ["minimum_allowance"])
    other = cw.person(TAIYUAN)
    small = cw.person(TAIYUAN)
    for p in (poor, other):
        assert cw.settle(p, setl_time="2023-05-10T10:00:00", **BIG).status_code == 200
    cw.settle(small, setl_time="2023-05-10T10:00:00", total="900.00", preself="0.00",
              med_type="11", hosp_lv=1)
    data = listing(cw, "2023-12-31").json()
    rows = mine(data, [poor, other, small])
    for p, cats in ((poor, ["minimum_allowance"]), (other, []), (small, [])):
        key, burden = expected(cw, p, "2023-12-31", cats)
        if key == "none":
            assert p not in rows
        else:
            assert (rows[p]["list"], fen(rows[p], "annual_personal_burden")) == (key, burden)
    assert rows[poor]["list"] == "relapse_watch" and rows[poor]["categories_names"] == "低保对象"
    assert data["departments"] == ["民政部门", "卫生健康部门", "乡村振兴部门"]


def test_a_dated_list_counts_only_claims_and_categories_up_to_that_day(cw: Casework) -> None:
    later = cw.person(TAIYUAN, [{"category": "minimum_allowance", "valid_from": "2023-07-01"}])
    cw.settle(later, setl_time="2023-03-01T10:00:00", total="5000.00", ownpay="2000.00",
              preself="0.00")
    cw.settle(later, setl_time="2023-06-15T10:00:00", **BIG)
    assert later not in mine(listing(cw, "2023-05-31").json(), [later])
    june = mine(listing(cw, "2023-06-30").json(), [later])[later]
    july = mine(listing(cw, "2023-07-01").json(), [later])[later]
    assert june["categories"] == [] and july["categories"] == ["minimum_allowance"]
    assert june["annual_personal_burden"] == july["annual_personal_burden"]
    key, burden = expected(cw, later, "2023-07-01", ["minimum_allowance"])
    assert (july["list"], fen(july, "annual_personal_burden")) == (key, burden)
    assert mine(listing(cw, "2024-01-10").json(), [later]) == {}  # a new year starts at 0


def test_a_reversed_claim_leaves_the_burden(cw: Casework) -> None:
    p = cw.person(TAIYUAN)
    setl = cw.settle(p, setl_time="2023-05-10T10:00:00", **BIG).json()
    assert p in mine(listing(cw, "2023-12-31").json(), [p])
    cw.post(f"/api/v1/settlements/{setl['setl_id']}/reversal", {"reason": "重复结算"}, cw.hospital)
    assert p not in mine(listing(cw, "2023-12-31").json(), [p])


def test_the_export_is_csv_or_xlsx_and_is_audited(cw: Casework) -> None:
    p = cw.person(TAIYUAN, ["minimum_allowance"])
    cw.settle(p, setl_time="2023-05-10T10:00:00", **BIG)
    r = listing(cw, "2023-12-31", format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "watch-list-140000-2023-12-31.csv" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["监测类别", "个人编号", "姓名"]
    row = next(x for x in table[1:] if x[1] == p)
    assert row[0] == "因病返贫监测范围" and row[3] == cw.get_person(p)["certno"]
    x = listing(cw, "2023-12-31", format="xlsx")
    assert x.status_code == 200
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(x.content)).active
    assert ws is not None
    assert str(ws["A1"].value).startswith("因病返贫致贫监测名单（山西省 140000，截至 2023-12-31）")
    values = [[c.value for c in row] for row in ws.iter_rows()]
    header = values.index(["监测类别", "个人编号", "姓名", "身份证号", "参保地代码", "参保地",
                           "救助对象类别", "年度累计个人负担（元）", "监测线（元）", "结算笔数"])
    mine_row = next(v for v in values[header + 1:] if v[1] == p)
    assert Decimal(str(mine_row[7])) == Decimal(next(r for r in table[1:] if r[1] == p)[7])
    assert cw.audit_actions("140000:2023-12-31")[-2:] == ["watch_list.exported"] * 2


def test_who_may_read_the_watch_lists(cw: Casework) -> None:
    assert listing(cw, "2023-12-31", cw.agency_jilin).status_code == 403
    assert listing(cw, "2023-12-31", cw.hospital).status_code == 403
    assert listing(cw, "2023-12-31", cw.analyst).status_code == 403
    assert listing(cw, "2023-12-31", cw.admin).status_code == 200
    assert listing(cw, "2023-12-31", format="pdf").status_code == 422
    assert cw.get("/api/v1/watch-lists", cw.admin, date="2023-12-31").status_code == 422
    assert cw.client.get("/api/v1/watch-lists").status_code == 401

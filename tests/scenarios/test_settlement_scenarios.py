"""Runs the settlement scenarios (``tests/scenarios/settlement/*.yaml``, ``kind: settlement``).

A scenario settles persons and claims exactly as ``minsheng settle`` does and checks the
figures worked out by hand::

    kind: settlement
    source: 002_e6e604b5a3b60eed.txt          # the seed the rule comes from (default for all)
    claim_defaults: {fulamt_ownpay_amt: "0.00", ...}   # optional, merged into every claim
    scenarios:
      - name: 返贫致贫人口省内住院综合支付比例托底到90%
        persons: [{psn_no: P1, insutype: "390", region: "140100", categories: [返贫致贫人口]}]
        claims:
          - {setl_id: C1, psn_no: P1, setl_time: 2023-03-01T10:00:00, med_type: "21",
             hosp_lv: 3, in_province: true, medfee_sumamt: "100000.00"}
        parameters: {...}                      # optional what-if values (null: none)
        expect:
          claims: {C1: {hifp_pay: "50000.00", maf_pay: "40000.00"}}
          persons: [{psn_no: P1, year: 2023, watch_list: relapse_watch}]
        cites: [002_e6e604b5a3b60eed.txt]      # optional: sources the traces must cite
        warns: 示例值                           # optional: a warning must contain this text
        no_warnings: true                      # optional: there must be no warning
      - name: …
        error: {kind: invalid_input, field: "claims[0].medfee_sumamt"}

Expected claim values may include ``setldetail`` (compared whole).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_checks import assert_refused

from minsheng.settle.preview import preview

HERE = Path(__file__).parent / "settlement"


def _load() -> list[Any]:
    cases = []
    for path in sorted(HERE.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        if doc.get("kind") != "settlement":
            continue
        assert doc.get("source"), f"{path.name}: every scenario file cites its source"
        defaults = doc.get("claim_defaults") or {}
        for sc in doc["scenarios"]:
            sc = {"source": doc["source"], **sc}
            sc["claims"] = [{**defaults, **c} for c in sc.get("claims", [])]
            cases.append(pytest.param(sc, id=f"{path.stem}: {sc['name']}"))
    return cases


def _request(sc: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"persons": sc.get("persons", []), "claims": sc["claims"]}
    if "parameters" in sc:
        body["parameters"] = sc["parameters"]
    return body


@pytest.mark.parametrize("scenario", _load())
def test_settlement_scenario(scenario: dict[str, Any]) -> None:
    if "error" in scenario:
        assert_refused(scenario["error"], lambda: preview(_request(scenario)))
        return
    result = preview(_request(scenario), trace=True)
    by_id = {c["setl_id"]: c for c in result["claims"]}
    for setl_id, expected in (scenario["expect"].get("claims") or {}).items():
        got = by_id[setl_id]
        for key, value in expected.items():
            assert got[key] == value, (setl_id, key, {k: v for k, v in got.items() if k != "trace"})
    for expected in scenario["expect"].get("persons") or []:
        rows = [p for p in result["persons"]
                if p["psn_no"] == expected["psn_no"] and p["year"] == expected["year"]]
        assert rows, (expected, result["persons"])
        for key, value in expected.items():
            assert rows[0][key] == value, (key, rows[0])
    cited = {step["reference"]["source"] for c in result["claims"] for step in c["trace"]
             if "reference" in step}
    for source in scenario.get("cites", [scenario["source"]]):
        assert source in cited, f"the traces do not cite {source}: {sorted(cited)}"
    if "warns" in scenario:
        assert any(scenario["warns"] in w for w in result["warnings"]), result["warnings"]
    if scenario.get("no_warnings"):
        assert result["warnings"] == [], result["warnings"]

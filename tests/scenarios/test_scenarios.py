"""Runs every YAML scenario in this folder: a policy analyst's golden cases.

A scenario file::

    source: 000_41bda435cb7595ae.txt        # the seed the figures come from (default for all)
    calculation: resident_fiscal_subsidy    # default for all scenarios of the file
    scenarios:
      - name: 2021年延边州人均财政补助580元
        date: 2021-06-01
        region: "222400"
        inputs: {}                          # optional
        parameters: {}                      # optional what-if overrides
        expect: {total: "580.00", central: "464.00"}
        cites: [000_41bda435cb7595ae.txt]   # optional: sources the trace must cite
        warns: 示例值                        # optional: a warning must contain this text
      - name: 2022年没有已编码的补助标准
        date: 2022-06-01
        region: "222400"
        error: {kind: parameter_missing, parameter: medical.financing.resident.fiscal_subsidy.total}

Files with ``kind: settlement`` hold settlement scenarios and are run by
``tests/scenarios/test_settlement_scenarios.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_checks import assert_refused

from minsheng.core.calculation import run

HERE = Path(__file__).parent


def _load() -> list[Any]:
    cases = []
    for path in sorted(HERE.glob("**/*.yaml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        if doc.get("kind", "calculation") != "calculation":
            continue
        assert doc.get("source"), f"{path.name}: every scenario file cites its source"
        for sc in doc["scenarios"]:
            sc = {"calculation": doc.get("calculation"), "source": doc["source"], **sc}
            cases.append(pytest.param(sc, id=f"{path.stem}: {sc['name']}"))
    return cases


@pytest.mark.parametrize("scenario", _load())
def test_scenario(scenario: dict[str, Any]) -> None:
    def go() -> Any:
        return run(scenario["calculation"], date=str(scenario["date"]),
                   region=str(scenario["region"]) if "region" in scenario else None,
                   inputs=scenario.get("inputs") or {},
                   parameters=scenario.get("parameters") or {})

    if "error" in scenario:
        assert_refused(scenario["error"], go)
        return
    result = go().to_json()
    for key, value in scenario["expect"].items():
        assert result["outputs"].get(key) == value, (key, result["outputs"])
    cited = {step["reference"]["source"] for step in result["trace"] if "reference" in step}
    for source in scenario.get("cites", [scenario["source"]]):
        assert source in cited, f"trace does not cite {source}: {sorted(cited)}"
    if "warns" in scenario:
        assert any(scenario["warns"] in w for w in result["warnings"]), result["warnings"]
    elif scenario.get("no_warnings", True):
        assert result["warnings"] == [], result["warnings"]

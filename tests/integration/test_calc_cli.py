"""`minsheng calc` and `minsheng params show`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def minsheng(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minsheng", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_yanbian_subsidy_for_2021_splits_580_and_cites_its_seed() -> None:
    done = minsheng("calc", "resident_fiscal_subsidy", "--date", "2021-06-01",
                    "--region", "222400", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["outputs"] == {"total": "580.00", "central": "464.00", "provincial": "69.60",
                               "local": "46.40"}
    assert {"name", "date", "region", "outputs", "warnings", "trace"} <= set(body)
    cited = {s["reference"]["source"] for s in body["trace"] if "reference" in s}
    assert "000_41bda435cb7595ae.txt" in cited


def test_the_readable_output_shows_the_figures_and_the_explanation() -> None:
    done = minsheng("calc", "employee_contribution_base", "--date", "2023-08-01",
                    "--region", "220100", "--set", "monthly_wage=2000")
    assert done.returncode == 0, done.stderr
    assert "19965.99" in done.stdout and "3993.20" in done.stdout
    assert "计算过程与出处" in done.stdout and "001_2744dedfd50d42c2.txt" in done.stdout


def test_a_what_if_parameter_changes_this_run_only() -> None:
    done = minsheng("calc", "resident_fiscal_subsidy", "--date", "2021-06-01", "--region",
                    "220102", "--param", "medical.financing.resident.fiscal_subsidy.total=600",
                    "--json")
    assert json.loads(done.stdout)["outputs"]["central"] == "360.00"


def test_the_list_names_every_calculation_with_its_inputs() -> None:
    done = minsheng("calc", "--list", "--json")
    names = {c["name"]: c for c in json.loads(done.stdout)["calculations"]}
    assert {"resident_fiscal_subsidy", "resident_contribution", "employee_contribution_base",
            "flexible_employment_contribution", "pku_benefit"} <= set(names)
    assert [f["name"] for f in names["resident_contribution"]["inputs"]] == ["age", "is_student"]


@pytest.mark.parametrize(("args", "named"), [
    (["calc", "resident_fiscal_subsidy", "--date", "2021-06-01", "--region", "229999"],
     "229999"),
    (["calc", "resident_fiscal_subsidy", "--date", "2025-06-01", "--region", "220102"],
     "medical.financing.resident.fiscal_subsidy.total"),
    (["calc", "no_such_calculation", "--date", "2021-06-01", "--region", "220102"],
     "no_such_calculation"),
    (["calc", "resident_contribution", "--date", "2020-06-01", "--region", "220102",
      "--set", "age=-3"], "age"),
    (["calc", "resident_contribution", "--date", "2020-06-01", "--region", "220102",
      "--set", "age=x"], "age"),
    (["calc", "resident_contribution", "--date", "2020-06-01", "--region", "220102",
      "--set", "height=180", "--set", "age=3"], "height"),
    (["calc", "resident_fiscal_subsidy", "--date", "2021-02-30", "--region", "220102"], "date"),
    (["calc", "resident_fiscal_subsidy", "--date", "2021-06-01", "--region", "220102",
      "--param", "medical.financing.resident.fiscal_subsidy.total=-5"],
     "medical.financing.resident.fiscal_subsidy.total"),
    (["params", "show", "--date", "2021-06-01", "--region", "0"], "region"),
])
def test_bad_input_exits_with_status_2_and_names_what_is_wrong(args: list[str],
                                                               named: str) -> None:
    done = minsheng(*args)
    assert done.returncode == 2
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_params_show_lists_each_value_with_its_reference() -> None:
    done = minsheng("params", "show", "medical.financing", "--date", "2021-06-01",
                    "--region", "220623", "--json")
    params = json.loads(done.stdout)["parameters"]
    share = params["medical.financing.resident.fiscal_subsidy.share.provincial"]
    assert share["value"] == 0.32
    assert share["reference"]["source"] == "000_41bda435cb7595ae.txt"
    assert share["example"] is False

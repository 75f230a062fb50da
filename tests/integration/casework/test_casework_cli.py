"""``minsheng casework``: the same steps from the command line, on the service's database,
as the system; errors name the field and exit with status 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from casework_helpers import CHANGCHUN, HAINAN, TAIYUAN, Casework
from service_helpers import client_for, new_database_url
from typer.testing import CliRunner

from minsheng.cli import app as cli
from minsheng.service.db import Database, forget_databases


@pytest.fixture
def env(backend: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Casework]]:
    url, remove = new_database_url(backend, tmp_path)
    db = Database(url, pool_size=3)
    db.migrate()
    with client_for(db) as client:
        yield {"MINSHENG_DATABASE_URL": url}, Casework(client, db)
    forget_databases()
    db.dispose()
    remove()


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["casework", *args], env=env)
    return result.exit_code, result.output


def test_a_transfer_is_applied_for_and_followed_from_the_command_line(
        env: tuple[dict[str, str], Casework]) -> None:
    variables, cw = env
    psn_no = cw.person(CHANGCHUN)
    code, output = invoke(variables, "transfer", "apply", "--set", f"psn_no={psn_no}",
                          "--set", f"from_region={HAINAN}", "--set", f"to_region={CHANGCHUN}",
                          "--set", "application_date=2023-09-25", "--json")
    assert code == 0, output
    t = json.loads(output)
    assert t["deadline"] == "2023-10-20"
    code, output = invoke(variables, "transfer", "show", t["id"], "--date", "2023-10-09")
    assert code == 0 and "剩余工作日" in output and "9" in output
    code, output = invoke(variables, "transfer", "overdue", "--date", "2023-10-23")
    assert code == 0 and t["id"] in output
    code, output = invoke(variables, "transfer", "step", t["id"], "completed", "--set",
                          "on=2023-10-16")
    assert code == 0 and "已办结" in output
    code, output = invoke(variables, "filing", "create", "--set", f"psn_no={psn_no}",
                          "--set", "kind=tourist", "--set", f"destination={HAINAN}")
    assert code == 2 and "kind" in output


def test_social_assistance_runs_twice_a_month_from_the_command_line(
        env: tuple[dict[str, str], Casework]) -> None:
    variables, cw = env
    psn_no = cw.person(CHANGCHUN)
    code, output = invoke(variables, "assistance", "apply", "--set", f"psn_no={psn_no}",
                          "--set", "category=低保", "--set", "township=南岭街道",
                          "--set", "on=2023-09-01", "--json")
    assert code == 0, output
    case_id = json.loads(output)["id"]
    assert invoke(variables, "assistance", "step", case_id, "accept", "--set",
                  "on=2023-09-02")[0] == 0
    code, output = invoke(variables, "run", "--date", "2023-09-08")
    assert code == 0 and "送经济核对 1 件" in output
    code, output = invoke(variables, "run", "--date", "2023-09-15")
    assert code == 2 and "每月两次" in output
    code, output = invoke(variables, "assistance", "step", case_id, "publicise")
    assert code == 2 and "step" in output
    code, output = invoke(variables, "assistance", "show", case_id, "--json")
    assert json.loads(output)["checks"]["economic_verification"] == "sent"


def test_the_watch_list_is_printed_and_exported(env: tuple[dict[str, str], Casework],
                                                tmp_path: Path) -> None:
    variables, cw = env
    psn_no = cw.person(TAIYUAN, ["minimum_allowance"])
    cw.settle(psn_no, setl_time="2023-05-10T10:00:00", total="60000.00", ownpay="8000.00")
    code, output = invoke(variables, "watch-list", "--region", "140000", "--date", "2023-12-31")
    assert code == 0 and "因病返贫监测 1 人" in output
    code, output = invoke(variables, "watch-list", "--region", "140000", "--date", "2023-12-31",
                          "--json")
    assert [r["psn_no"] for r in json.loads(output)["persons"]] == [psn_no]
    target = tmp_path / "lists.xlsx"
    code, output = invoke(variables, "watch-list", "--region", "140000", "--date", "2023-12-31",
                          "--export", str(target))
    assert code == 0 and target.stat().st_size > 0
    from openpyxl import load_workbook

    ws = load_workbook(target).active
    assert ws is not None and any(psn_no == c.value for row in ws.iter_rows() for c in row)
    code, output = invoke(variables, "watch-list", "--region", "140000", "--export",
                          str(tmp_path / "lists.pdf"))
    assert code == 2 and "format" in output
    assert CliRunner().invoke(cli, ["audit", "verify"], env=variables).exit_code == 0

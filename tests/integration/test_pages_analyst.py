"""Policy what-ifs on the web (``/analyst``): a synthetic or uploaded population, a reform as
parameter overrides, the report with its charts and CSV tables.

Issue 8 item 6. The page runs :func:`minsheng.batch.simulate.run_simulation` (the engine of
``minsheng simulate``) synchronously, for small populations only, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pages_helpers import client, login, post, sqlite_database, text, token

from minsheng.batch import synthetic
from minsheng.batch.simulate import run_simulation
from minsheng.service.db import Database
from minsheng.web.analyst import SYNTHETIC_LIMIT

REFORM = {"reform_name_1": "medical.critical.resident.deductible", "reform_value_1": "10000.00"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with sqlite_database(tmp_path_factory.mktemp("analyst")) as database:
        yield database


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def analyst(db: Database, runs: Path) -> TestClient:
    c = client(db, runs)
    login(c, token(db, "analyst")[1])
    return c


def simulate(c: TestClient, **fields: str) -> Any:
    return post(c, "/analyst/simulations", {"source": "synthetic", "persons": "300", "seed": "5",
                                            "province": "140000", "year": "2023", **REFORM, **fields})


def test_the_form_says_runs_are_small_and_synchronous_and_labels_every_control(analyst: TestClient) -> None:
    page = analyst.get("/analyst")
    assert page.status_code == 200
    shown = text(page.text)
    assert f"合成人群不超过 {SYNTHETIC_LIMIT} 人" in shown and "minsheng simulate" in shown
    for control in ("persons", "seed", "province", "year", "claims_file", "persons_file", "reform_name_1",
                    "reform_value_1", "reform_json", "baseline_json"):
        assert f'<label for="{control}"' in page.text, control
    assert 'enctype="multipart/form-data"' in page.text


def test_a_synthetic_population_is_simulated_and_shows_the_same_results_as_the_engine(
        analyst: TestClient, tmp_path: Path) -> None:
    r = simulate(analyst)
    assert r.status_code == 303, text(r.text)
    page = analyst.get(r.headers["location"])
    assert page.status_code == 200

    paths = synthetic.write(synthetic.generate(300, 5, "140000", 2023), tmp_path / "in")
    direct = run_simulation(Path(paths["claims"]), Path(paths["persons"]), tmp_path / "out",
                            reform={"medical.critical.resident.deductible": "10000.00"})
    shown = text(page.text)
    for line in direct.headlines():
        assert line in shown
    assert f"{direct.claims} 笔结算单" in shown and "合成人群：山西省 300 人" in shown


def test_the_report_and_its_tables_are_served_and_the_report_is_framed_without_scripts(analyst: TestClient) -> None:
    location = simulate(analyst, seed="6").headers["location"]
    page = analyst.get(location).text
    assert f'<iframe class="report-frame" src="{location}/report.html"' in page and 'sandbox=""' in page
    report = analyst.get(f"{location}/report.html")
    assert report.status_code == 200 and "<svg" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    table = analyst.get(f"{location}/outlay_by_category.csv")
    assert table.status_code == 200 and "attachment" in table.headers["content-disposition"]
    summary = analyst.get(f"{location}/summary.json").json()
    assert summary["reform"]["overrides"] == {"medical.critical.resident.deductible": "10000.00"}
    assert analyst.get(f"{location}/run.json").status_code == 404
    assert analyst.get(f"{location}/..%2Frun.json").status_code == 404


def test_an_uploaded_population_is_simulated_and_the_uploads_are_deleted(analyst: TestClient, runs: Path,
                                                                          tmp_path: Path) -> None:
    paths = synthetic.write(synthetic.generate(200, 9, "220000", 2023), tmp_path, "csv")
    with open(paths["claims"], "rb") as claims, open(paths["persons"], "rb") as persons:
        r = post(analyst, "/analyst/simulations", {"source": "upload", **REFORM},
                 files={"claims_file": ("claims.csv", claims, "text/csv"),
                        "persons_file": ("persons.csv", persons, "text/csv")})
    assert r.status_code == 303, text(r.text)
    run_id = r.headers["location"].rsplit("/", 1)[1]
    meta = json.loads((runs / run_id / "run.json").read_text("utf-8"))
    assert meta["population"].startswith("上传的结算单和人员文件")
    assert not (runs / run_id / "input").exists(), "uploaded personal data is not kept"
    assert (runs / run_id / "report" / "report.html").is_file()


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"reform_name_1": "medical.no.such", "reform_value_1": "1"}, "reform_name_1",
     "第 1 行 medical.no.such：未知的参数名"),
    ({"reform_name_1": "", "reform_value_1": ""}, "reform_json", "请至少给出一个改革方案参数"),
    ({"reform_json": "{not json"}, "reform_json", "不是有效的 JSON"),
    ({"persons": str(SYNTHETIC_LIMIT + 1)}, "persons", f"人数应在 1 到 {SYNTHETIC_LIMIT} 之间"),
    ({"reform_value_1": "lots"}, "reform_name_1", "第 1 行 medical.critical.resident.deductible"),
])
def test_a_bad_form_is_shown_again_with_the_error_beside_its_field(analyst: TestClient, fields: dict[str, str],
                                                                   field: str, message: str) -> None:
    r = simulate(analyst, **fields)
    assert r.status_code == 422
    page = r.text
    assert f'<a href="#{field}">' in page and message in text(page)
    assert f'id="err-{field}"' in page


def test_an_upload_needs_both_files_as_csv_or_parquet(analyst: TestClient) -> None:
    r = post(analyst, "/analyst/simulations", {"source": "upload", **REFORM})
    assert r.status_code == 422 and "请选择结算单文件" in text(r.text)
    r = post(analyst, "/analyst/simulations", {"source": "upload", **REFORM},
             files={"claims_file": ("claims.txt", b"x", "text/plain"), "persons_file": ("p.csv", b"x", "text/csv")})
    assert r.status_code == 422 and "结算单文件应为 .csv 或 .parquet 文件" in text(r.text)


def test_a_simulation_post_without_the_csrf_token_is_refused(analyst: TestClient) -> None:
    r = analyst.post("/analyst/simulations", data={"source": "synthetic", "persons": "10", **REFORM},
                     follow_redirects=False)
    assert r.status_code == 403


def test_an_unknown_run_is_a_404_page(analyst: TestClient) -> None:
    assert analyst.get("/analyst/simulations/20990101-000000-abcdef").status_code == 404


@pytest.mark.parametrize(("role", "region", "allowed"), [("admin", None, True), ("agency", "220000", False),
                                                         ("hospital", None, False)])
def test_the_analyst_pages_are_for_analysts_and_administrators(db: Database, runs: Path, role: str,
                                                             region: str | None, allowed: bool) -> None:
    c = client(db, runs)
    login(c, token(db, role, region)[1])
    page = c.get("/analyst", follow_redirects=False)
    if role == "hospital":  # no page at all: it never got a session
        assert page.status_code == 303
    else:
        assert page.status_code == (200 if allowed else 403)

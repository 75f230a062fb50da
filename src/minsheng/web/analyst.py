"""Policy what-ifs on the web (政策测算, ``/analyst``): analysts and administrators.

A simulation settles one population twice — under the parameters in force (or a baseline of
overrides) and under a reform (parameter overrides) — with :func:`minsheng.batch.simulate.
run_simulation`, the engine of ``minsheng simulate``, and shows its report (HTML with charts,
:mod:`minsheng.batch.report`) and CSV tables. The population is synthetic
(:func:`minsheng.batch.synthetic.generate`: size, seed, province, year) or uploaded (claims
and persons as CSV or Parquet, columns as in SETTLEMENT.md).

Runs are small and synchronous (the page waits): at most :data:`SYNTHETIC_LIMIT` synthetic
persons, uploads of at most :data:`UPLOAD_BYTES` per file and :data:`CLAIM_LIMIT` claims;
larger populations belong to ``minsheng simulate`` on the command line. The reports hold
sums only; uploaded files are deleted when the run ends. Reports are kept in
``MINSHENG_RUNS_DIR`` (default ``minsheng-runs`` in the working folder), one folder per run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from minsheng.core.errors import InputError, MinshengError, NotFound
from minsheng.core.parameters import default_store
from minsheng.service.audit import now
from minsheng.service.auth import ROLES, Principal
from minsheng.web.forms import message_of
from minsheng.web.session import PageRoute, checked_form, page_principal, redirect, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

AREA = "/analyst"
SYNTHETIC_LIMIT = 50_000
"""Synthetic persons per web run (≈ 220,000 claims, a few seconds)."""
CLAIM_LIMIT = 200_000
UPLOAD_BYTES = 30 * 1024 * 1024
OVERRIDE_ROWS = 3
PROVINCES = {"140000": "山西省", "220000": "吉林省"}
RUNS_ENV = "MINSHENG_RUNS_DIR"
_STATE_KEY = "minsheng_runs_dir"
OUTPUTS = {"report.html": "text/html; charset=utf-8", "summary.json": "application/json",
           "outlay_by_category.csv": "text/csv; charset=utf-8",
           "outlay_by_med_type.csv": "text/csv; charset=utf-8",
           "watch_list.csv": "text/csv; charset=utf-8",
           "burden_percentiles.csv": "text/csv; charset=utf-8",
           "inpatient_ratio.csv": "text/csv; charset=utf-8",
           "fiscal_liability.csv": "text/csv; charset=utf-8"}
OUTPUT_NAMES = {"report.html": "测算报告（HTML，含图表）", "summary.json": "摘要（JSON）",
                "outlay_by_category.csv": "按救助类别的基金支出", "outlay_by_med_type.csv": "按医疗类别的基金支出",
                "watch_list.csv": "监测名单人数", "burden_percentiles.csv": "个人负担分位数",
                "inpatient_ratio.csv": "住院支付比例", "fiscal_liability.csv": "各级财政补助负担"}


def runs_dir(request: Request) -> Path:
    """Where the reports are kept (the app's setting, ``MINSHENG_RUNS_DIR``, or the default)."""
    configured: Path | None = getattr(request.app.state, _STATE_KEY, None)
    return configured or Path(os.environ.get(RUNS_ENV) or "minsheng-runs")


# --- the form ---------------------------------------------------------------------------------

def parameter_names() -> list[str]:
    return sorted(default_store().declarations)


def parse_overrides(values: Mapping[str, Sequence[str]], prefix: str) -> dict[str, Any]:
    """Overrides from the form: the JSON box (``{参数名: 取值}``) plus the name/value rows.

    Numbers are kept as their text (``"10000.00"``, never a float); a row's value is read as
    JSON only for ``null``, ``true``/``false``, lists and objects. The parameter store then
    checks every value against its parameter's unit; an error names the row or the box."""
    store = default_store()
    raw_json = _first(values, f"{prefix}_json")
    overrides: dict[str, Any] = {}
    if raw_json:
        try:
            parsed = json.loads(raw_json, parse_float=str)
        except ValueError as exc:
            raise InputError(f"{prefix}_json", f"不是有效的 JSON：{exc}", "not valid JSON") from None
        if isinstance(parsed, Mapping) and set(parsed) == {"parameters"}:
            parsed = parsed["parameters"] or {}
        if not isinstance(parsed, Mapping):
            raise InputError(f"{prefix}_json", "应为 JSON 对象 {参数名: 取值}", "expected a JSON object")
        try:
            store.parse_overrides(parsed, prefix)
        except InputError as exc:
            raise InputError(f"{prefix}_json", f"{exc.field}：{message_of(exc)}",
                             exc.message_en.split(": ", 1)[-1]) from None
        overrides.update(parsed)
    for i in range(1, OVERRIDE_ROWS + 1):
        name = _first(values, f"{prefix}_name_{i}")
        text = _first(values, f"{prefix}_value_{i}")
        if not name and not text:
            continue
        field = f"{prefix}_name_{i}"
        if not name:
            raise InputError(field, f"第 {i} 行填了取值，缺少参数名", "parameter name missing")
        if name in overrides:
            raise InputError(field, f"参数 {name} 重复给出", "parameter given twice")
        value: Any = text
        if text in ("null", "true", "false") or text[:1] in ("[", "{"):
            try:
                value = json.loads(text, parse_float=str)
            except ValueError:
                raise InputError(f"{prefix}_value_{i}", f"取值 {i} 不是有效的 JSON", "not valid JSON") from None
        try:
            store.parse_overrides({name: value}, prefix)
        except InputError as exc:
            raise InputError(field, f"第 {i} 行 {name}：{message_of(exc)}",
                             exc.message_en.split(": ", 1)[-1]) from None
        overrides[name] = value
    return overrides


def _first(values: Mapping[str, Sequence[str]], name: str) -> str:
    got = values.get(name) or [""]
    return str(got[0]).strip()


def _integer(values: Mapping[str, Sequence[str]], name: str, label: str, low: int, high: int,
             default: int | None = None) -> int:
    text = _first(values, name)
    if not text and default is not None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise InputError(name, f"{label}应为整数，收到 {text!r}", f"{name} must be an integer") from None
    if not low <= number <= high:
        raise InputError(name, f"{label}应在 {low} 到 {high} 之间", f"{name} must be in [{low}, {high}]")
    return number


# --- pages ------------------------------------------------------------------------------------

@router.get("/analyst", response_class=HTMLResponse)
def analyst_home(request: Request) -> Response:
    who = page_principal(request, AREA)
    return _form_page(request, who)


def _form_page(request: Request, who: Principal, errors: Mapping[str, str] | None = None,
               values: Mapping[str, Sequence[str]] | None = None, status: int = 200) -> Response:
    form = {k: _first(values, k) for k in values} if values else {}
    return render(request, "analyst/form.html", status, nav="analyst", who=who,
                  role_name=ROLES[who.role], errors=dict(errors or {}), form=form,
                  provinces=PROVINCES, synthetic_limit=SYNTHETIC_LIMIT, claim_limit=CLAIM_LIMIT,
                  upload_mb=UPLOAD_BYTES // (1024 * 1024), rows=range(1, OVERRIDE_ROWS + 1),
                  parameter_names=parameter_names(), runs=list_runs(runs_dir(request)))


@router.post("/analyst/simulations", response_class=HTMLResponse)
async def simulate(request: Request) -> Response:
    who = page_principal(request, AREA)
    values = await checked_form(request)
    posted = await request.form()  # the same parsed form (Starlette keeps it), with the files
    uploads = {k: v for k in ("claims_file", "persons_file")
               if isinstance(v := posted.get(k), StarletteUpload) and v.filename}
    run_id = f"{now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = runs_dir(request) / run_id
    try:
        spec = _spec(values, uploads)
        await _save_uploads(uploads, folder / "input")
        summary = run_spec(spec, folder, who)
    except InputError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _form_page(request, who, {_field_of(exc.field): message_of(exc)}, values, exc.status)
    except MinshengError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _form_page(request, who, {"": exc.message}, values, exc.status)
    finally:
        shutil.rmtree(folder / "input", ignore_errors=True)
    return redirect(request, f"/analyst/simulations/{run_id}",
                    ("ok", f"测算完成：{summary['claims']} 笔结算单，{summary['person_years']} 个人年度，"
                           f"用时 {summary['seconds']} 秒。"))


def _field_of(field: str) -> str:
    """The form control an error belongs to (``reform.medical.x`` → the reform's JSON box)."""
    for prefix in ("reform", "baseline"):
        if field == prefix or field.startswith(prefix + "."):
            return f"{prefix}_json"
    return field


def _spec(values: Mapping[str, Sequence[str]], uploads: Mapping[str, Any]) -> dict[str, Any]:
    """What to run, checked field by field."""
    source = _first(values, "source") or "synthetic"
    if source not in ("synthetic", "upload"):
        raise InputError("source", "人群来源应为合成人群或上传文件", "source: synthetic or upload")
    spec: dict[str, Any] = {"source": source,
                            "reform": parse_overrides(values, "reform"),
                            "baseline": parse_overrides(values, "baseline")}
    if not spec["reform"]:
        raise InputError("reform_json", "请至少给出一个改革方案参数（参数名和取值）",
                         "the reform needs at least one parameter")
    if source == "synthetic":
        spec["persons"] = _integer(values, "persons", "人数", 1, SYNTHETIC_LIMIT)
        spec["seed"] = _integer(values, "seed", "随机种子", 0, 2**31 - 1, default=1)
        spec["year"] = _integer(values, "year", "年度", 2000, 2100, default=2023)
        province = _first(values, "province") or "140000"
        if province not in PROVINCES:
            raise InputError("province", "省份应为山西省（140000）或吉林省（220000）", "unknown province")
        spec["province"] = province
    else:
        for name, label in (("claims_file", "结算单文件"), ("persons_file", "人员文件")):
            upload = uploads.get(name)
            if upload is None:
                raise InputError(name, f"请选择{label}（CSV 或 Parquet）", f"{name} missing")
            suffix = Path(upload.filename).suffix.lower()
            if suffix not in (".csv", ".parquet"):
                raise InputError(name, f"{label}应为 .csv 或 .parquet 文件", "csv or parquet")
            spec[name] = f"{name.split('_')[0]}{suffix}"
    return spec


async def _save_uploads(uploads: Mapping[str, StarletteUpload], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, upload in uploads.items():
        suffix = Path(upload.filename or "").suffix.lower()
        target = folder / f"{name.split('_')[0]}{suffix}"
        size = 0
        with target.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > UPLOAD_BYTES:
                    raise InputError(name, f"文件超过 {UPLOAD_BYTES // (1024 * 1024)} MB；"
                                           "更大的人群请用命令行 minsheng simulate",
                                     "file too large for the web page")
                out.write(chunk)


def run_spec(spec: Mapping[str, Any], folder: Path, who: Principal) -> dict[str, Any]:
    """Run one simulation into ``folder`` (``input/`` is removed afterwards by the caller)."""
    from minsheng.batch import synthetic
    from minsheng.batch.inputs import count_rows
    from minsheng.batch.simulate import run_simulation

    inputs = folder / "input"
    if spec["source"] == "synthetic":
        paths = synthetic.write(synthetic.generate(spec["persons"], spec["seed"], spec["province"],
                                                   spec["year"]), inputs)
        claims, persons = Path(paths["claims"]), Path(paths["persons"])
        population = (f"合成人群：{PROVINCES[spec['province']]} {spec['persons']} 人，"
                      f"{spec['year']} 年，随机种子 {spec['seed']}")
    else:
        claims, persons = inputs / spec["claims_file"], inputs / spec["persons_file"]
        rows = count_rows(claims)
        if rows is not None and rows > CLAIM_LIMIT:
            raise InputError("claims_file", f"结算单 {rows} 笔，超过网页测算的上限 {CLAIM_LIMIT} 笔；"
                                            "请用命令行 minsheng simulate", "too many claims")
        population = "上传的结算单和人员文件（运行后已删除）"
    sim = run_simulation(claims, persons, folder / "report", baseline=spec["baseline"],
                         reform=spec["reform"])
    summary = sim.summary()
    meta = {"id": folder.name, "created": now().isoformat(timespec="seconds"), "by": who.actor,
            "population": population, "reform": spec["reform"], "baseline": spec["baseline"],
            "claims": summary["claims"], "person_years": summary["person_years"],
            "year": summary["year"], "seconds": summary["seconds"],
            "headlines": sim.headlines(), "warnings": summary["warnings"]}
    (folder / "run.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1, default=str),
                                     "utf-8")
    return summary


def list_runs(root: Path, limit: int = 20) -> list[dict[str, Any]]:
    if not root.is_dir():
        return []
    runs = []
    for meta in sorted(root.glob("*/run.json"), reverse=True)[:limit]:
        try:
            runs.append(json.loads(meta.read_text("utf-8")))
        except ValueError:
            continue
    return runs


def _run(request: Request, run_id: str) -> tuple[Path, dict[str, Any]]:
    folder = runs_dir(request) / run_id
    if not _valid_id(run_id) or not (folder / "run.json").is_file():
        raise NotFound(f"没有找到测算 {run_id}", f"unknown run {run_id}")
    meta: dict[str, Any] = json.loads((folder / "run.json").read_text("utf-8"))
    return folder, meta


def _valid_id(run_id: str) -> bool:
    return len(run_id) <= 40 and all(c.isalnum() or c == "-" for c in run_id)


@router.get("/analyst/simulations/{run_id}", response_class=HTMLResponse)
def simulation(request: Request, run_id: str) -> Response:
    who = page_principal(request, AREA)
    folder, meta = _run(request, run_id)
    files = [(name, OUTPUT_NAMES[name]) for name in OUTPUTS if (folder / "report" / name).is_file()]
    return render(request, "analyst/run.html", nav="analyst", who=who, role_name=ROLES[who.role],
                  run=meta, files=files, reform_json=json.dumps(meta["reform"], ensure_ascii=False),
                  baseline_json=json.dumps(meta["baseline"], ensure_ascii=False))


@router.get("/analyst/simulations/{run_id}/{name}")
def simulation_file(request: Request, run_id: str, name: str) -> Response:
    page_principal(request, AREA)
    folder, _ = _run(request, run_id)
    path = folder / "report" / name
    if name not in OUTPUTS or not path.is_file():
        raise NotFound(f"没有找到文件 {name}", f"unknown file {name}")
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                          "frame-ancestors 'self'",
               "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=OUTPUTS[name], headers=headers,
                        filename=None if name.endswith(".html") else f"{run_id}-{name}",
                        content_disposition_type="inline" if name.endswith(".html") else "attachment")

"""``minsheng casework``: every casework step on the service's database, as the system.

The command line acts as the system administrator (like ``minsheng token``), on the
database of ``MINSHENG_DATABASE_URL``; every change is audited with the actor
``admin:system``. A step's fields are given as ``--set KEY=VALUE`` (the same fields as the
JSON of the HTTP API), e.g.::

    minsheng casework filing create --set psn_no=P1 --set kind=long_term_resident --set destination=460000
    minsheng casework transfer apply --set psn_no=P1 --set from_region=460000 --set to_region=220102
    minsheng casework assistance step A1B2C3 accept --set on=2023-09-04
    minsheng casework run --date 2023-09-16
    minsheng casework watch-list --date 2023-12-31 --region 140000 --export lists.xlsx
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from minsheng.cli.common import fail, out, print_json, split_assignment
from minsheng.core.errors import InputError, MinshengError

casework_app = typer.Typer(
    help="案件办理：异地就医备案、转移接续、门诊慢特病与双通道药品、社会救助审批、因病返贫致贫监测名单"
         "（以系统管理员身份操作服务数据库，全部记入审计）。", no_args_is_help=True)
filing_app = typer.Typer(help="异地就医备案：办理、变更、终止、查询。", no_args_is_help=True)
transfer_app = typer.Typer(help="转移接续：跨省申请、省内参保登记办结、办理步骤、进度、超期。",
                           no_args_is_help=True)
recognition_app = typer.Typer(help="门诊慢特病认定与双通道药品备案：办理、审核、撤销、更换药品、退费重新结算或轧差。",
                              no_args_is_help=True)
assistance_app = typer.Typer(help="社会救助审批：申请、受理、入户调查、经济核对、民主评议、签批、查询、超期。",
                             no_args_is_help=True)
casework_app.add_typer(filing_app, name="filing")
casework_app.add_typer(transfer_app, name="transfer")
casework_app.add_typer(recognition_app, name="recognition")
casework_app.add_typer(assistance_app, name="assistance")

SET = typer.Option(None, "--set", help="字段 KEY=VALUE（可重复）")
JSON_OUT = typer.Option(False, "--json", help="输出 JSON")


def register(app: typer.Typer) -> None:
    app.add_typer(casework_app, name="casework")


def _body(assignments: list[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for text in assignments or []:
        key, value = split_assignment(text, "--set")
        body[key] = value
    return body


def _call(fn: Callable[..., dict[str, Any]], *args: Any, write: bool = True,
          as_json: bool = False) -> dict[str, Any]:
    """Run a service function as the system on the service's database; errors exit 2."""
    from minsheng.service.auth import SYSTEM
    from minsheng.service.db import get_database
    from minsheng.service.unit_of_work import UnitOfWork

    try:
        data = fn(UnitOfWork(get_database(), write=write), SYSTEM, *args)
    except MinshengError as exc:
        fail(exc)
    _show(data, as_json)
    return data


LABELS = {"id": "编号", "psn_no": "个人编号", "status_name": "状态", "kind_name": "类别",
          "destination_name": "就医地", "scope_name": "范围", "deadline": "办结期限",
          "from_region_name": "转出地", "to_region_name": "转入地", "disease_name": "病种",
          "drug": "药品", "valid_from": "有效期自", "valid_to": "有效期至", "category_name": "救助类别",
          "township": "乡镇（街道）", "due_on": "办结时限", "reason": "原因", "count": "件数",
          "mode_name": "方式", "manual_reimbursement": "轧差报销金额", "period": "批次"}


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False)
    table.add_column("项目", style="bold")
    table.add_column("内容")
    for key, label in LABELS.items():
        if data.get(key) not in (None, ""):
            table.add_row(label, str(data[key]))
    for key, value in data.items():
        if key not in LABELS and isinstance(value, list) and value and isinstance(value[0], str):
            table.add_row(key, "、".join(value))
    progress = data.get("progress")
    if isinstance(progress, dict) and "working_days_left" in progress:
        table.add_row("剩余工作日", str(progress["working_days_left"]))
    if table.row_count == 0:
        print_json(data)
        return
    out.print(table)


# --- filings ----------------------------------------------------------------------------------

@filing_app.command("create", help="办理异地就医备案（kind、destination，可选 filed_at、valid_to、"
                                   "late_for_discharge）。")
def filing_create(sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import filings

    _call(filings.create_filing, _body(sets), as_json=as_json)


@filing_app.command("change", help="变更备案：原备案终止，新备案生效。")
def filing_change(filing_id: str, sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import filings

    _call(filings.change_filing, filing_id, _body(sets), as_json=as_json)


@filing_app.command("end", help="终止备案（--set reason=…；--set cancel=true 撤销误办的备案）。")
def filing_end(filing_id: str, sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import filings

    _call(filings.end_filing, filing_id, _body(sets), as_json=as_json)


@filing_app.command("show", help="查询备案。")
def filing_show(filing_id: str, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import filings

    _call(filings.get_filing, filing_id, write=False, as_json=as_json)


@filing_app.command("list", help="参保人的全部备案。")
def filing_list(psn_no: str, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import filings

    _call(filings.list_filings, psn_no, write=False, as_json=as_json)


# --- transfers --------------------------------------------------------------------------------

@transfer_app.command("apply", help="申请跨省转移接续（psn_no、from_region、to_region、channel、application_date）。")
def transfer_apply(sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import transfers

    _call(transfers.apply_cross_province, _body(sets), as_json=as_json)


@transfer_app.command("register", help="省内转移接续：在转入地参保登记（psn_no、to_region、registered_on），当日办结。")
def transfer_register(sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import transfers

    _call(transfers.register_in_province, _body(sets), as_json=as_json)


@transfer_app.command("step", help="办理步骤：forwarded（转出地传送）、completed（办结）、"
                                   "rejected（不予办理，需 reason）。")
def transfer_step(transfer_id: str, step: str, sets: list[str] | None = SET,
                  as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import transfers

    _call(transfers.advance, transfer_id, step, _body(sets), as_json=as_json)


@transfer_app.command("show", help="办理进度（已用、剩余工作日）。")
def transfer_show(transfer_id: str, date: str = typer.Option("", "--date", help="查询日（默认今天）"),
                  as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import transfers

    _call(transfers.get_transfer, transfer_id, date or None, write=False, as_json=as_json)


@transfer_app.command("overdue", help="超过办结时限仍未办结的转移接续。")
def transfer_overdue(date: str = typer.Option("", "--date", help="日期（默认今天）"),
                     region: str = typer.Option("", "--region", help="地区代码"),
                     as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import transfers

    data = _call(transfers.overdue, date or None, region or None, write=False, as_json=as_json)
    if not as_json:
        for t in data["transfers"]:
            typer.echo(f"{t['id']}  {t['psn_no']}  {t['from_region_name']} → {t['to_region_name']}  "
                       f"期限 {t['deadline']}  超期 {-t['progress']['working_days_left']} 个工作日")


# --- recognitions -----------------------------------------------------------------------------

@recognition_app.command("create", help="门诊慢特病认定或双通道药品备案（kind、disease、institution_region …）。")
def recognition_create(sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import recognitions

    _call(recognitions.create_recognition, _body(sets), as_json=as_json)


@recognition_app.command("review", help="参保地审核线上申请（decision=approve|reject，reason）。")
def recognition_review(rec_id: str, sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import recognitions

    _call(recognitions.review, rec_id, _body(sets), as_json=as_json)


@recognition_app.command("revoke", help="撤销认定或备案（reason，on）。")
def recognition_revoke(rec_id: str, sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import recognitions

    _call(recognitions.revoke, rec_id, _body(sets), as_json=as_json)


@recognition_app.command("change-drug", help="更换双通道药品：撤销原备案重新办理。")
def recognition_change_drug(rec_id: str, sets: list[str] | None = SET,
                            as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import recognitions

    _call(recognitions.change_drug, rec_id, _body(sets), as_json=as_json)


@recognition_app.command("resettle", help="已按普通门诊结算的：退费重新结算（mode=refund_resettle）"
                                          "或轧差报销（mode=difference）。")
def recognition_resettle(sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import recognitions

    _call(recognitions.resettle, _body(sets), as_json=as_json)


@recognition_app.command("show", help="查询认定或备案。")
def recognition_show(rec_id: str, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import recognitions

    _call(recognitions.get_recognition, rec_id, write=False, as_json=as_json)


# --- social assistance ------------------------------------------------------------------------

@assistance_app.command("apply", help="乡镇（街道）一门式申请（psn_no、category、township、village、on）。")
def assistance_apply(sets: list[str] | None = SET, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import assistance_approval as sa

    _call(sa.apply, _body(sets), as_json=as_json)


@assistance_app.command("step", help="办理步骤：accept、survey、verification、require-appraisal、appraisal、sign。")
def assistance_step(case_id: str, step: str, sets: list[str] | None = SET,
                    as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import assistance_approval as sa

    steps = {"accept": sa.accept, "survey": sa.survey, "verification": sa.verification,
             "require-appraisal": sa.require_appraisal, "appraisal": sa.appraisal,
             "sign": sa.sign}
    if step not in steps:
        fail(InputError("step", f"未知步骤 {step!r}（可用：{'、'.join(steps)}）", "unknown step"))
    _call(steps[step], case_id, _body(sets), as_json=as_json)


@assistance_app.command("show", help="救助申请的办理进度。")
def assistance_show(case_id: str, as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import assistance_approval as sa

    _call(sa.get_case, case_id, write=False, as_json=as_json)


@assistance_app.command("overdue", help="超过办结时限（15天）仍未审批的申请。")
def assistance_overdue(date: str = typer.Option("", "--date", help="日期（默认今天）"),
                       as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import assistance_approval as sa

    data = _call(sa.overdue, date or None, write=False, as_json=as_json)
    if not as_json:
        for c in data["cases"]:
            typer.echo(f"{c['id']}  {c['psn_no']}  {c['township']}  {c['category_name']}  "
                       f"申请 {c['applied_on']}  时限 {c['due_on']}  {c['status_name']}")


@casework_app.command("run", help="经济核对与审批批次（每月两次：上半月、下半月各一次）：送经济核对，"
                                  "并使乡镇已签批的决定生效（认定类别自批次日起记入参保人）。")
def run_batch(date: str = typer.Option("", "--date", help="批次日期（默认今天）"),
              as_json: bool = JSON_OUT) -> None:
    from minsheng.core.dates import parse_date
    from minsheng.service.casework import assistance_approval as sa

    try:
        day = parse_date(date, "--date") if date else None
    except MinshengError as exc:
        fail(exc)
    data = _call(sa.run_batch, day, as_json=as_json)
    if not as_json:
        typer.echo(f"批次 {data['period']}（{data['date']}）：送经济核对 {len(data['verifications_sent'])} 件，"
                   f"审批认定 {len(data['approved'])} 件，不予认定 {len(data['denied'])} 件")


@casework_app.command("staff", help="登记经办机构令牌持有人的社会救助经办级别（county、township、village）。")
def staff(token_id: str,
          level: str = typer.Option(..., "--level", help="county（县）、township（乡镇）、village（村）"),
          township: str = typer.Option("", "--township", help="乡镇（街道）名称"),
          village: str = typer.Option("", "--village", help="村（社区）名称"),
          name: str = typer.Option("", "--name", help="姓名"),
          as_json: bool = JSON_OUT) -> None:
    from minsheng.service.casework import assistance_approval as sa

    body = {k: v for k, v in (("level", level), ("township", township), ("village", village),
                              ("name", name)) if v}
    _call(sa.set_staff, token_id, body, as_json=as_json)


@casework_app.command("watch-list", help="因病返贫致贫监测名单（按日期、地区）；--export 导出 CSV 或 XLSX，"
                                         "报送民政、卫生健康、乡村振兴部门。")
def watch_list(date: str = typer.Option("", "--date", help="截至日期（默认今天）"),
               region: str = typer.Option(..., "--region", help="地区代码"),
               export: Path | None = typer.Option(None, "--export", help="导出文件（.csv 或 .xlsx）"),
               fmt: str = typer.Option("", "--format", help="csv 或 xlsx（默认按文件扩展名）"),
               as_json: bool = JSON_OUT) -> None:
    from minsheng.service.auth import SYSTEM
    from minsheng.service.casework import watch_lists
    from minsheng.service.db import get_database
    from minsheng.service.unit_of_work import UnitOfWork

    db = get_database()
    try:
        if export is not None:
            kind = fmt or export.suffix.lstrip(".").lower()
            content, _, _ = watch_lists.export(UnitOfWork(db), UnitOfWork(db, write=True), SYSTEM,
                                               date or None, region, kind)
            export.write_bytes(content)
            typer.echo(f"已导出 {export}（{len(content)} 字节）")
            return
        data = watch_lists.compute(UnitOfWork(db), SYSTEM, date or None, region)
    except MinshengError as exc:
        fail(exc)
    if as_json:
        print_json(data)
        return
    table = Table(title=watch_lists.title(data), header_style="bold")
    for label in ("监测类别", "个人编号", "姓名", "参保地", "救助对象类别", "年度累计个人负担（元）",
                  "监测线（元）"):
        table.add_column(label)
    for r in data["persons"]:
        table.add_row(r["list_name"], r["psn_no"], r["psn_name"] or "—", r["region_name"],
                      r["categories_names"], r["annual_personal_burden"], r["threshold"])
    out.print(table)
    counts = data["counts"]
    typer.echo(f"因病返贫监测 {counts['relapse_watch']} 人，因病致贫监测 {counts['impoverish_watch']} 人"
               f"（报送：{'、'.join(data['departments'])}）")


"""``minsheng settle FILE|-``: settle persons and claims given as JSON, in memory (试算)."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import typer
from rich.table import Table

from minsheng.cli.common import fail, out, print_json
from minsheng.core.errors import InputError, MinshengError
from minsheng.settle.preview import preview


def register(app: typer.Typer) -> None:
    app.command("settle", help="结算试算：按 SETTLEMENT.md 一站式结算 JSON 中的费用（不保存），"
                               "输出每笔费用的基金分担与人员年度累计。")(settle)


def settle(
    file: str = typer.Argument(..., help="JSON 文件（{persons, claims, parameters}），- 为标准输入"),
    trace: bool = typer.Option(False, "--trace", help="附上每笔费用的计算过程与参数出处"),
    table: bool = typer.Option(False, "--table", help="以表格显示（默认输出 JSON）"),
) -> None:
    try:
        result = preview(_read(file), trace=trace)
    except MinshengError as exc:
        fail(exc)
    if table:
        show(result)
    else:
        print_json(result)


def _read(file: str) -> Any:
    try:
        data = sys.stdin.buffer.read() if file == "-" else open(file, "rb").read()  # noqa: SIM115
    except OSError as exc:
        raise InputError("FILE", f"无法读取文件 {file}：{exc.strerror}", "cannot read file") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError("FILE", f"不是有效的 JSON：{exc}", "not valid JSON") from None


def show(result: dict[str, Any]) -> None:
    claims = Table(title="每笔费用的分担（元）", header_style="bold")
    for col in ("结算编号", "人员", "政策范围内", "基本医保", "大病保险", "医疗救助", "个人负担"):
        claims.add_column(col, justify="left" if col in ("结算编号", "人员") else "right")
    for c in result["claims"]:
        claims.add_row(c["setl_id"], c["psn_no"], c["inscp_scp_amt"], c["hifp_pay"],
                       c["hifmi_pay"], c["maf_pay"], c["psn_part_amt"])
    out.print(claims)
    persons = Table(title="人员年度累计（元）", header_style="bold")
    for col in ("人员", "年度", "医疗费总额", "基金支付", "个人负担", "监测结果"):
        persons.add_column(col, justify="left" if col in ("人员", "监测结果") else "right")
    labels = {"relapse_watch": "因病返贫监测", "impoverish_watch": "因病致贫监测", "none": "未纳入"}
    for p in result["persons"]:
        persons.add_row(p["psn_no"], str(p["year"]), p["medfee_sumamt"], p["fund_pay_sumamt"],
                        p["psn_part_amt"], labels.get(p["watch_list"] or "", "—"))
    out.print(persons)
    for w in result["warnings"]:
        out.print(f"[yellow]注意[/]：{w}", highlight=False)

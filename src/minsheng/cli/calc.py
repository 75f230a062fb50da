"""``minsheng calc``: run any registered calculation and explain it."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from minsheng.cli.common import fail, out, print_json, split_assignment
from minsheng.core.calculation import Result, registry, run
from minsheng.core.errors import MinshengError
from minsheng.core.parameters import default_store


def register(app: typer.Typer) -> None:
    app.command("calc", help="计算：按地区和日期运行一项政策计算，并给出带出处的解释。")(calc)


def calc(
    name: str = typer.Argument("", help="计算名称，如 resident_fiscal_subsidy"),
    date: str = typer.Option("", "--date", "-d", help="日期 YYYY-MM-DD"),
    region: str = typer.Option("", "--region", "-r", help="地区代码（GB/T 2260 六位）"),
    set_: list[str] = typer.Option([], "--set", "-s", help="输入 KEY=VALUE（列表用逗号分隔）"),
    param: list[str] = typer.Option([], "--param", "-p", help="本次运行的参数假设值 NAME=VALUE"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    list_: bool = typer.Option(False, "--list", help="列出全部计算及其输入"),
) -> None:
    try:
        if list_:
            _list(as_json)
            return
        if not name:
            from minsheng.core.errors import InputError

            raise InputError("name", "缺少计算名称（minsheng calc --list 列出全部）",
                             "calculation name required")
        inputs = dict(split_assignment(s, "--set") for s in set_)
        parameters = _parse_params(param)
        result = run(name, date=date or None, region=region or None, inputs=inputs,
                     parameters=parameters)
    except MinshengError as exc:
        fail(exc)
    if as_json:
        print_json(result.to_json())
    else:
        show(result)


def _parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE``; VALUE may be JSON (lists, null) or plain text."""
    parsed: dict[str, Any] = {}
    store = default_store()
    for item in items:
        key, raw = split_assignment(item, "--param")
        store.declaration(key)
        text = raw.strip()
        if text in ("null", "none", "无"):
            parsed[key] = None
        elif text.startswith(("[", "{")):
            try:
                parsed[key] = json.loads(text)
            except ValueError:
                parsed[key] = text
        else:
            parsed[key] = text
    return parsed


def show(result: Result) -> None:
    calc = result.calculation
    out.print(f"[bold]{calc.title}[/] ({calc.name})  日期 {result.date}  "
              f"地区 {result.region.code} {result.region.name}", highlight=False, soft_wrap=True)
    table = Table(show_header=True, header_style="bold")
    table.add_column("输出")
    table.add_column("名称")
    table.add_column("值", justify="right")
    for key, label, value in result.output_rows():
        table.add_row(label, key, value)
    out.print(table)
    for w in result.warnings:
        out.print(f"[yellow]注意[/]：{w}", highlight=False, soft_wrap=True)
    out.print("[bold]计算过程与出处[/]")
    out.print(result.explain(), highlight=False, markup=False, soft_wrap=True)


def _list(as_json: bool) -> None:
    calcs = registry()
    if as_json:
        print_json({"calculations": [c.describe() for c in calcs.values()]})
        return
    table = Table(show_header=True, header_style="bold")
    table.add_column("名称")
    table.add_column("说明")
    table.add_column("输入")
    for c in calcs.values():
        inputs = ", ".join(f"{f.name}{'' if f.required else '?'}:{f.type}" for f in c.inputs)
        table.add_row(c.name, c.title, inputs or "—")
    out.print(table)

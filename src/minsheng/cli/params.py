"""``minsheng params show``: every parameter in force, with its value and reference."""

from __future__ import annotations

import typer
from rich.table import Table

from minsheng.cli.common import fail, out, print_json
from minsheng.core.dates import parse_date
from minsheng.core.errors import MinshengError
from minsheng.core.parameters import default_store, to_text_value
from minsheng.core.regions import get_region

params_app = typer.Typer(help="参数：查看某地某日生效的全部政策参数及出处。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(params_app, name="params")


@params_app.command("show", help="列出某地区某日期生效的参数（可按名称前缀过滤）。")
def show(
    prefix: str = typer.Argument("", help="参数名前缀，如 medical.financing"),
    date: str = typer.Option(..., "--date", "-d", help="日期 YYYY-MM-DD"),
    region: str = typer.Option(..., "--region", "-r", help="地区代码"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    try:
        day = parse_date(date, "date")
        reg = get_region(region, "region")
        found = default_store().in_force(day, reg.code, prefix)
    except MinshengError as exc:
        fail(exc)
    if as_json:
        print_json({"date": day.isoformat(), "region": reg.code, "parameters": {
            r.name: {"value": r.display(), "reference": r.reference.to_dict(),
                     "example": r.example, "description": r.description,
                     "unit": r.unit, "region": r.region,
                     "from": r.start.isoformat() if r.start else None,
                     "to": r.end.isoformat() if r.end else None}
            for r in found}})
        return
    table = Table(title=f"{reg.name}（{reg.code}）{day} 生效的参数", header_style="bold")
    table.add_column("参数")
    table.add_column("值", justify="right")
    table.add_column("说明")
    table.add_column("出处")
    for r in found:
        value = to_text_value(r.unit, r.value) + ("（示例）" if r.example else "")
        table.add_row(r.name, value, r.description, r.reference.cite())
    out.print(table)

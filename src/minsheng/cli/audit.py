"""``minsheng audit``: verify and show the hash-chained audit trail."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from minsheng.cli.common import out, print_json

audit_app = typer.Typer(help="审计日志：校验哈希链，查看记录。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify", help="校验审计链：报告第一条被改动、删除或调换的记录（退出码 1），否则 OK。")
def verify(as_json: bool = typer.Option(False, "--json", help="输出 JSON")) -> None:
    from minsheng.service.audit_trail import verify_chain
    from minsheng.service.db import get_database
    from minsheng.service.unit_of_work import UnitOfWork

    verdict = verify_chain(UnitOfWork(get_database()))
    if as_json:
        print_json(verdict.to_dict())
    elif verdict.ok:
        typer.echo(f"OK：{verdict.entries} 条审计记录，哈希链完整。链头 {verdict.head_hash}")
    else:
        typer.echo(f"审计链被破坏：{verdict.message}", err=True)
        typer.echo(f"audit chain broken: {verdict.message_en}", err=True)
    if not verdict.ok:
        raise typer.Exit(1)


@audit_app.command("show", help="显示审计记录。")
def show(
    after: int = typer.Option(0, "--after", help="从此序号之后"),
    limit: int = typer.Option(50, "--limit", help="条数"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    from minsheng.service.audit_trail import entries
    from minsheng.service.db import get_database
    from minsheng.service.unit_of_work import UnitOfWork

    data = entries(UnitOfWork(get_database()), after=after, limit=limit)
    if as_json:
        print_json(data)
        return
    table = Table(header_style="bold")
    for col in ("序号", "时间", "操作人", "操作", "对象", "内容"):
        table.add_column(col)
    for e in data["entries"]:
        table.add_row(str(e["seq"]), e["at"][:19], e["actor"], e["action"],
                      f"{e['entity_type']} {e['entity_id']}",
                      json.dumps(e["payload"], ensure_ascii=False)[:80])
    out.print(table)

"""``minsheng token``: create, list and revoke the service's access tokens (same database)."""

from __future__ import annotations

import typer
from rich.table import Table

from minsheng.cli.common import fail, out, print_json
from minsheng.core.errors import MinshengError

token_app = typer.Typer(help="访问令牌：为各角色创建、列出、撤销令牌（与服务使用同一数据库）。",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")


@token_app.command("create", help="创建令牌并显示一次（库中只存其 sha256）。")
def create(
    role: str = typer.Option(..., "--role", help="角色：admin、agency、hospital、analyst、citizen"),
    region: str = typer.Option("", "--region", help="地区代码（经办机构必填；医院可选）"),
    psn_no: str = typer.Option("", "--psn-no", help="个人编号（参保人令牌必填）"),
    label: str = typer.Option("", "--label", help="备注，如机构名称"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    from minsheng.service.auth import create_token
    from minsheng.service.db import get_database
    from minsheng.service.unit_of_work import UnitOfWork

    try:
        with UnitOfWork(get_database(), write=True) as uow:
            token, secret = create_token(uow, role, region=region or None,
                                         psn_no=psn_no or None, label=label)
            uow.commit()
    except MinshengError as exc:
        fail(exc)
    if as_json:
        print_json({"id": token.id, "token": secret, "role": token.role,
                    "region": token.region, "psn_no": token.psn_no})
        return
    typer.echo(secret)
    scope = token.region or token.psn_no or "全部"
    typer.echo(f"令牌 {token.id}：角色 {token.role}，范围 {scope}。令牌只显示这一次，请妥善保存。",
               err=True)


@token_app.command("list", help="列出令牌（不含密钥）。")
def list_tokens(as_json: bool = typer.Option(False, "--json", help="输出 JSON")) -> None:
    from minsheng.service.db import get_database
    from minsheng.service.unit_of_work import UnitOfWork

    with UnitOfWork(get_database()) as uow:
        rows = [{"id": t.id, "role": t.role, "region": t.region, "psn_no": t.psn_no,
                 "label": t.label, "created_at": t.created_at.isoformat(timespec="seconds"),
                 "revoked_at": t.revoked_at.isoformat(timespec="seconds")
                 if t.revoked_at else None} for t in uow.tokens.list()]
    if as_json:
        print_json({"tokens": rows})
        return
    table = Table(header_style="bold")
    for col in ("编号", "角色", "地区", "个人编号", "备注", "创建时间", "撤销时间"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(v or "—") for v in r.values()))
    out.print(table)


@token_app.command("revoke", help="撤销令牌。")
def revoke(token_id: str = typer.Argument(..., help="令牌编号 tok_…")) -> None:
    from minsheng.service.auth import revoke_token
    from minsheng.service.db import get_database
    from minsheng.service.unit_of_work import UnitOfWork

    try:
        with UnitOfWork(get_database(), write=True) as uow:
            revoke_token(uow, token_id)
            uow.commit()
    except MinshengError as exc:
        fail(exc)
    typer.echo(f"已撤销令牌 {token_id}")

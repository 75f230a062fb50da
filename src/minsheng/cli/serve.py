"""``minsheng serve``: the HTTP API and the pages."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("serve", help="启动服务（HTTP API 与页面）。")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址"),
    port: int = typer.Option(8000, "--port", help="端口"),
    workers: int = typer.Option(1, "--workers", help="进程数（多于 1 个时请设置 MINSHENG_SECRET_KEY）"),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log", help="记录每个请求"),
    demo: bool = typer.Option(False, "--demo", help="载入演示数据并显示各角色的演示令牌"),
    writer_process: bool = typer.Option(
        True, "--writer-process/--no-writer-process",
        help="结算写入器在独立进程中运行（默认；否则在每个 HTTP 进程内）"),
) -> None:
    import os

    import uvicorn

    from minsheng.service.writer_process import SOCKET_ENV, WriterProcess

    if demo:
        from minsheng.service.db import get_database
        from minsheng.service.demo import describe, load_demo

        typer.echo(describe(load_demo(get_database())))
    typer.echo(f"minsheng 服务：http://{host}:{port}/  （API 文档 /docs，OpenAPI /openapi.json）")
    writer = None
    if writer_process:  # before the HTTP processes, which inherit its socket's path
        writer = WriterProcess()
        writer.start()
        os.environ[SOCKET_ENV] = writer.path
    try:
        uvicorn.run("minsheng.api.app:create_app", factory=True, host=host, port=port,
                    workers=workers, log_level="info" if access_log else "warning",
                    access_log=access_log)
    finally:
        if writer is not None:
            writer.stop()

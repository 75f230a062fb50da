"""``minsheng serve``: the HTTP API and the pages."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("serve", help="启动服务（HTTP API 与页面）。")(serve)


DEFAULT_WRITERS = 1
"""Writer processes when ``--writers`` is not given. On PostgreSQL the one writer is pipelined
(it settles a batch while the last one commits, :mod:`minsheng.service.writer`): measured on
2 cores as fast as two writers settling one batch at a time, with a quarter less CPU per
claim (docs/performance.md, sitting 6). On SQLite writers queue for the one database file."""


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址"),
    port: int = typer.Option(8000, "--port", help="端口"),
    workers: int = typer.Option(1, "--workers", help="进程数（多于 1 个时请设置 MINSHENG_SECRET_KEY）"),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log", help="记录每个请求"),
    demo: bool = typer.Option(False, "--demo", help="载入演示数据并显示各角色的演示令牌"),
    writer_process: bool = typer.Option(
        True, "--writer-process/--no-writer-process",
        help="结算写入器在独立进程中运行（默认；否则在每个 HTTP 进程内）"),
    writers: int | None = typer.Option(
        None, "--writers", min=1,
        help="结算写入进程数，按参保人分担（同一人总在同一进程）；"
             "默认 1 个（PostgreSQL 上流水线式：一批提交时下一批已在结算）"),
) -> None:
    import os

    import uvicorn

    from minsheng.service.writer_process import SOCKET_ENV, WriterProcess

    if demo:
        from minsheng.service.db import get_database
        from minsheng.service.demo import describe, load_demo

        typer.echo(describe(load_demo(get_database())))
    typer.echo(f"minsheng 服务：http://{host}:{port}/  （API 文档 /docs，OpenAPI /openapi.json）")
    started: list[WriterProcess] = []
    try:
        if writer_process:  # before the HTTP processes, which inherit their sockets' paths
            count = writers or DEFAULT_WRITERS
            if count > 1:  # several writers, each one batch at a time (pipelined, they measured
                os.environ.setdefault("MINSHENG_WRITER_PIPELINE", "0")  # slower: sitting 6)
            for _ in range(count):
                started.append(WriterProcess())
                started[-1].start()
            os.environ[SOCKET_ENV] = os.pathsep.join(w.path for w in started)
        uvicorn.run("minsheng.api.app:create_app", factory=True, host=host, port=port,
                    workers=workers, log_level="info" if access_log else "warning",
                    access_log=access_log)
    finally:
        for writer in started:
            writer.stop()

"""``minsheng batch settle``, ``minsheng synth`` and ``minsheng simulate``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from minsheng.batch.allocators import prepare_batch_process
from minsheng.cli.common import err, fail, out, print_json
from minsheng.core.errors import InputError, MinshengError

batch_app = typer.Typer(help="批量结算：一省一年的结算单一次结算（本机或 Apache Spark）。",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
    app.command("synth", help="生成合成的一省参保人员与一年结算单（按种子可复现）。")(synth)
    app.command("simulate", help="政策模拟：基线与改革方案（参数假设值）对同一人群的结算比较，输出 HTML 报告与 CSV。")(
        simulate)


class RichReporter:
    """Progress on stderr (a Rich progress bar per phase)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def phase(self, description: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(description, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


def _progress(quiet: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False, disable=quiet)


@batch_app.command("settle", help="批量结算：读取结算单与人员文件（Parquet 或 CSV），按人分块调用结算内核，"
                                  "输出每笔结算的 Parquet（金额为两位小数的文本）。")
def settle(
    claims: Path = typer.Argument(..., help="结算单文件（Parquet 或 CSV，列名按 SETTLEMENT.md）"),
    persons: Path = typer.Option(..., "--persons", help="人员文件（psn_no, insutype, region, categories）"),
    out_dir: Path = typer.Option(..., "--out", help="输出目录（Parquet 分片文件）"),
    engine: str = typer.Option("local", "--engine", help="local（本机）或 spark"),
    params: Path | None = typer.Option(None, "--params", help="参数假设值 JSON 文件（同 parameters）"),
    master: str = typer.Option("local[*]", "--master", help="Spark master（--engine spark）"),
    person_years: Path | None = typer.Option(None, "--person-years", help="另存每人每年合计与监测名单的目录"),
    chunk_rows: int = typer.Option(500_000, "--chunk-rows", help="每块约多少笔结算单（整人分块）"),
    workers: int | None = typer.Option(None, "--workers",
                                       help="本机并行进程数（默认：两百万笔以上按核数，否则 1；Spark 引擎只用于校验）"),
    compression: str = typer.Option("none", "--compression",
                                    help="输出分片的压缩：none（默认，最快）、lz4、snappy、zstd（最小）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出摘要"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="不显示进度条"),
) -> None:
    prepare_batch_process()
    from minsheng.batch.pool import discard_started_workers, start_workers

    try:
        if engine in ("local", "spark"):  # the workers import while this process does
            start_workers(claims, workers, ("minsheng.batch.local" if engine == "local"
                                            else "minsheng.batch.ingest",))
        from minsheng.batch.overrides import load_overrides

        overrides = load_overrides(params)
        if engine not in ("local", "spark"):
            raise InputError("--engine", f"应为 local 或 spark，收到 {engine!r}", "expected local or spark")
        with _progress(quiet) as progress:
            reporter = RichReporter(progress)
            if engine == "local":
                from minsheng.batch.local import settle_file

                summary = settle_file(claims, persons, out_dir, overrides=overrides,
                                      chunk_rows=chunk_rows, person_years=person_years,
                                      workers=workers, reporter=reporter,
                                      compression=compression)
            else:
                from minsheng.batch.spark import settle_file as spark_settle

                summary = spark_settle(claims, persons, out_dir, overrides=overrides,
                                       master=master, person_years=person_years,
                                       reporter=reporter, compression=compression,
                                       workers=workers)
    except MinshengError as exc:
        fail(exc)
    finally:
        discard_started_workers()  # (when the job failed before it took them)
    if as_json:
        print_json(summary.to_json())
        return
    out.print(f"已结算 {summary.rows} 笔（{summary.chunks} 块，{summary.seconds:.1f} 秒）→ {summary.out}",
              highlight=False)
    if summary.resumed_chunks:
        out.print(f"续跑：{summary.resumed_chunks} 块此前已完成，未重复结算", highlight=False)
    if summary.person_years:
        out.print(f"每人每年合计 → {summary.person_years}", highlight=False)
    _print_warnings(summary.warnings)


def _print_warnings(warnings: list[str]) -> None:
    """Example values in one line of parameter names; any other warning in full."""
    if not warnings:
        return
    names = [m.group(1) for w in warnings if (m := _EXAMPLE.match(w))]
    others = [w for w in warnings if not _EXAMPLE.match(w)]
    if names:
        shown = "、".join(names[:6]) + (f" 等 {len(names)} 项" if len(names) > 6 else "")
        err.print(f"[yellow]警告[/]：用到示例值（非政策原文，结果仅供演示）：{shown}（--json 列出全文）",
                  highlight=False)
    for w in others[:5]:
        err.print(f"[yellow]警告[/]：{w}", highlight=False)
    if len(others) > 5:
        err.print(f"  …… 另有 {len(others) - 5} 项警告（--json 列出全部）", highlight=False)


_EXAMPLE = re.compile(r"^参数 (\S+) 使用了示例值")


def synth(
    persons: int = typer.Option(..., "--persons", help="合成人数"),
    seed: int = typer.Option(..., "--seed", help="随机种子（同一种子得到同样的数据）"),
    out_dir: Path = typer.Option(..., "--out", help="输出目录"),
    province: str = typer.Option("140000", "--province", help="140000（山西）或 220000（吉林）"),
    year: int = typer.Option(2023, "--year", help="结算年度"),
    fmt: str = typer.Option("parquet", "--format", help="parquet 或 csv"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出摘要"),
) -> None:
    try:
        import time

        from minsheng.batch import synthetic

        started = time.perf_counter()
        data = synthetic.generate(persons, seed, province, year)
        paths = synthetic.write(data, out_dir, fmt)
        seconds = time.perf_counter() - started
        notes = synthetic.profile_notes(province)
    except MinshengError as exc:
        fail(exc)
    summary = {"persons": data.persons.height, "claims": data.claims.height, "files": paths,
               "seconds": round(seconds, 3), "sources": notes}
    if as_json:
        print_json(summary)
        return
    out.print(f"合成 {data.persons.height} 人、{data.claims.height} 笔结算单（{seconds:.1f} 秒）：",
              highlight=False)
    for name, path in paths.items():
        out.print(f"  {name}: {path}", highlight=False)
    out.print("数据为合成数据，不描述任何真实的人；所用比例及其出处：", highlight=False)
    for note in notes:
        out.print(f"  {note}", highlight=False, markup=False)


def simulate(
    claims: Path = typer.Option(..., "--claims", help="结算单文件"),
    persons: Path = typer.Option(..., "--persons", help="人员文件"),
    reform: Path = typer.Option(..., "--reform", help="改革方案：参数假设值 JSON"),
    baseline: Path | None = typer.Option(None, "--baseline", help="基线：参数假设值 JSON（默认现行参数）"),
    out_dir: Path = typer.Option(..., "--out", help="输出目录（report.html 与 CSV 表）"),
    chunk_rows: int = typer.Option(500_000, "--chunk-rows", help="每块约多少笔结算单"),
    workers: int | None = typer.Option(None, "--workers",
                                       help="本机并行进程数（默认：两百万笔以上按核数，否则 1）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出摘要"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="不显示进度条"),
) -> None:
    try:
        prepare_batch_process()
        from minsheng.batch.overrides import load_overrides
        from minsheng.batch.simulate import run_simulation

        reform_params = load_overrides(reform)
        base_params = load_overrides(baseline)
        with _progress(quiet) as progress:
            result = run_simulation(claims, persons, out_dir, baseline=base_params,
                                    reform=reform_params, chunk_rows=chunk_rows,
                                    reporter=RichReporter(progress), workers=workers)
    except MinshengError as exc:
        fail(exc)
    if as_json:
        print_json(result.summary())
        return
    s = result.summary()
    out.print(f"模拟完成：{s['claims']} 笔结算单，{s['person_years']} 个人年度 → {out_dir}",
              highlight=False)
    for line in result.headlines():
        out.print(f"  {line}", highlight=False, markup=False)
    out.print(f"报告：{out_dir / 'report.html'}", highlight=False)
    _print_warnings(s["warnings"])

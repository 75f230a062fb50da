"""Helpers shared by the command modules: errors to stderr, JSON to stdout."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console

from minsheng.core.errors import MinshengError

out = Console()
err = Console(stderr=True)


def console_error(exc: MinshengError) -> None:
    err.print(f"[bold red]错误[/]：{exc.message}", highlight=False, markup=True)
    if exc.message_en:
        err.print(f"error: {exc.message_en}", highlight=False, markup=False)


def fail(exc: MinshengError) -> NoReturn:
    console_error(exc)
    raise typer.Exit(2)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def split_assignment(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` → ``(KEY, VALUE)``; anything else is an error naming the option."""
    from minsheng.core.errors import InputError

    if "=" not in text:
        raise InputError(option, f"应为 KEY=VALUE 形式，收到 {text!r}", "expected KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), value

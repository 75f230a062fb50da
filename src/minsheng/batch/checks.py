"""The vectorised checks of the input columns: for each column the value it gives (as a
Polars expression) and its checks (:data:`Check`: a flag and what it says), and the
evaluation of the checks into bad rows (:func:`collect`).

Money may be a decimal string (``"580.00"``), an integer, a decimal, or a float that is
exactly a number of fen (:func:`money_of`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from minsheng.batch.bad_rows import MAX_REPORTED, BadRow
from minsheng.rules.settlement_params import MAX_FEN

_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%d %H:%M", "%Y-%m-%d")

Check = tuple[pl.Expr, str, str]


def text_of(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype != pl.String:
        col = col.cast(pl.String, strict=False)
    return col.str.strip_chars()


def _integer_of(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_integer():
        return pl.col(name).cast(pl.Int64)
    return text_of(name, dtype).cast(pl.Int64, strict=False)


def money_of(name: str, dtype: pl.DataType) -> tuple[pl.Expr, list[Check]]:
    """Fen of a money column, and its checks (in the order they are reported)."""
    col = pl.col(name)
    missing = col.is_null()
    if dtype.is_integer():
        fen = col.cast(pl.Int64) * 100
        return fen, [(missing, "缺少金额", "missing"),
                     (col < 0, "金额不能为负", "must not be negative"),
                     (col.cast(pl.Int64) > MAX_FEN // 100, "金额过大", "amount too large")]
    if dtype.is_float():
        scaled = (col * 100).round(0)
        finite = col.is_finite()
        fen = pl.when(finite & (scaled.abs() < 2.0**53)).then(scaled).otherwise(0).cast(pl.Int64)
        return fen, [(missing, "缺少金额", "missing"),
                     (~finite, "金额无效", "not a finite number"),
                     (col < 0, "金额不能为负", "must not be negative"),
                     (finite & (fen.cast(pl.Float64) / 100 != col), "金额最多两位小数",
                      "at most two decimals"),
                     (fen > MAX_FEN, "金额过大", "amount too large")]
    if isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2:
        # the unscaled integer is the amount in 10^-scale yuan: fen by integer arithmetic
        unscaled = col.to_physical()
        small = unscaled.cast(pl.Int64, strict=False)
        fen = pl.when(small.abs() <= MAX_FEN).then(small * 10 ** (2 - (dtype.scale or 0)))
        return fen, [(missing, "缺少金额", "missing"),
                     (unscaled < 0, "金额不能为负", "must not be negative"),
                     (fen.is_null() | (fen > MAX_FEN), "金额过大", "amount too large")]
    text = text_of(name, dtype).str.replace_all(",", "", literal=True)
    shape = text.str.contains(r"^-?(\d+\.?\d*|\.\d+)$")
    whole = text.str.extract(r"^-?(\d*)", 1)
    frac = text.str.extract(r"\.(\d*)$", 1).fill_null("")
    long = whole.str.len_chars() > 13
    fen = (pl.when(shape & ~long)
           .then(whole.replace("", "0").cast(pl.Int64, strict=False) * 100
                 + frac.str.slice(0, 2).str.pad_end(2, "0").cast(pl.Int64, strict=False))
           .otherwise(0))
    return fen, [(missing | (text == ""), "缺少金额", "missing"),
                 (~shape, "不是金额", "not an amount"),
                 (text.str.starts_with("-"), "金额不能为负", "must not be negative"),
                 (frac.str.strip_chars_end("0").str.len_chars() > 2, "金额最多两位小数",
                  "at most two decimals"),
                 (long | (fen > MAX_FEN), "金额过大", "amount too large")]


def time_of(name: str, dtype: pl.DataType) -> tuple[pl.Expr, list[Check]]:
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return pl.lit(0, pl.Int64), [(pl.lit(True), "日期时间不带时区（按北京时间）",
                                          "no time zone: China time")]
        t = col.dt.epoch("s")
    elif dtype == pl.Date:
        t = col.cast(pl.Datetime("us")).dt.epoch("s")
    else:
        text = text_of(name, dtype)
        t = pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us")
                         for f in _TIME_FORMATS]).dt.epoch("s")
    return t.fill_null(0), [(col.is_null(), "缺少结算时间", "missing"),
                            (t.is_null(), "日期时间应为 YYYY-MM-DDTHH:MM:SS 格式（不带时区）",
                             "expected an ISO date-time without zone")]


def choice_of(name: str, dtype: pl.DataType, allowed: tuple[int, ...], zh: str,
           en: str) -> tuple[pl.Expr, list[Check]]:
    value = _integer_of(name, dtype)
    bad = value.is_null() | ~value.is_in(list(allowed))
    return value.fill_null(allowed[0]), [(pl.col(name).is_null(), "缺少该字段", "missing"),
                                         (bad, zh, en)]


def boolean_of(name: str, dtype: pl.DataType) -> tuple[pl.Expr, list[Check]]:
    col = pl.col(name)
    if dtype == pl.Boolean:
        return col.fill_null(False), [(col.is_null(), "缺少该字段", "missing")]
    text = text_of(name, dtype).str.to_lowercase()
    return text == "true", [(col.is_null(), "缺少该字段", "missing"),
                            (~text.is_in(["true", "false"]), "应为 true 或 false",
                             "expected true or false")]


def collect(frame: pl.DataFrame, table: str, first_row: int,
            checks: list[tuple[str, list[Check]]],
            shown: Mapping[str, pl.Expr] | None = None) -> tuple[list[BadRow], int]:
    """Evaluate the checks; the first bad rows (first failing check of each) and their count."""
    flags = []
    names = []
    for field_name, items in checks:
        for j, (expr, _, _) in enumerate(items):
            flags.append(expr.fill_null(False).alias(f"__{field_name}_{j}"))
            names.append((field_name, j))
    if not flags:
        return [], 0
    result = frame.select(flags)
    any_bad = result.select(pl.any_horizontal(pl.all()).alias("bad"))["bad"]
    count = int(any_bad.sum())
    if not count:
        return [], 0
    where = np.flatnonzero(any_bad.to_numpy())[:MAX_REPORTED]
    values = {}
    sub = frame[where.tolist()]
    for field_name, _ in checks:
        expr = (shown or {}).get(field_name, pl.col(field_name) if field_name in frame.columns
                                 else pl.lit(None))
        values[field_name] = sub.select(expr.alias("v"))["v"].to_list()
    rows: list[BadRow] = []
    columns = result[where.tolist()]
    for k, i in enumerate(where.tolist()):
        for (field_name, j), col in zip(names, columns.columns, strict=True):
            if columns[col][k]:
                _, zh, en = dict(checks)[field_name][j]
                value = values[field_name][k]
                rows.append(BadRow(table, first_row + i, field_name, f"{zh}（{value!r}）", en))
                break
    return rows, count

"""Rows that cannot be settled, and the error that reports them.

Every row is checked vectorised (Polars, :mod:`minsheng.batch.checks`) before anything is
settled: a bad row is reported by its row number (data rows counted from 1, the CSV header
not counted) and its field, with the first :data:`MAX_REPORTED` of them shown and the number
of bad rows counted, and then nothing is settled and nothing is written (:class:`BadRows`,
exit status 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from minsheng.core.errors import InputError

MAX_REPORTED = 20


@dataclass(frozen=True)
class BadRow:
    table: str
    row: int
    field: str
    zh: str
    en: str

    def text(self) -> str:
        return f"{self.table} 第 {self.row} 行 {self.field}：{self.zh}"


class BadRows(InputError):
    """Rows that cannot be settled: the first few by row and field, and how many there are."""

    def __init__(self, rows: list[BadRow], count: int) -> None:
        shown = rows[:MAX_REPORTED]
        first = shown[0]
        more = f"（仅列出前 {len(shown)} 行）" if count > len(shown) else ""
        zh = (f"共 {count} 行数据有误，未结算任何一笔{more}：\n"
              + "\n".join(f"  {r.text()}" for r in shown))
        en = (f"{count} bad row(s); nothing was settled: "
              + "; ".join(f"{r.table} row {r.row} {r.field}: {r.en}" for r in shown))
        super().__init__(f"{first.table}[{first.row}].{first.field}", zh, en)
        self.rows = shown
        self.count = count

"""Watch lists for poverty caused by illness (因病返贫致贫监测), POLICY.md §3.5.

Computed from the stored settlements: for every person insured in the region with settled,
unreversed claims in the year of ``date`` up to and including that day, the person-year's
personal burden is the sum of their ``psn_part_amt`` (which is the ``psn_part_amt``
accumulator when no later claim exists), and the categories are those held on ``date``.
:func:`minsheng.rules.assistance.watch_list_status` — the rule of the ``watch_list``
calculation, with its cited thresholds — decides the list: 因病返贫 (``relapse_watch``) or
因病致贫 (``impoverish_watch``); persons on neither list are left out.

The county medical security bureau shares the lists periodically with the civil affairs,
health and rural revitalisation departments: :func:`export_csv` and :func:`export_xlsx`
give the dated export (UTF-8 CSV with a byte-order mark, so that spreadsheet programs read
the Chinese; XLSX with a title block). Every export is audited. A region whose thresholds
are not encoded (only Shanxi's are printed) is an error naming the parameter.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from minsheng.core.calculation import Context
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen
from minsheng.core.regions import get_region, is_within
from minsheng.core.resident_id import mask_certno
from minsheng.rules.assistance import WATCH_LISTS, watch_list_status
from minsheng.service.auth import WATCH_LIST, Forbidden, Principal
from minsheng.service.casework.common import Body, audit, context, today
from minsheng.service.persons import categories_on
from minsheng.service.unit_of_work import UnitOfWork

DEPARTMENTS = ("民政部门", "卫生健康部门", "乡村振兴部门")
COLUMNS = (
    ("list_name", "监测类别"), ("psn_no", "个人编号"), ("psn_name", "姓名"),
    ("certno", "身份证号"), ("region", "参保地代码"), ("region_name", "参保地"),
    ("categories_names", "救助对象类别"), ("annual_personal_burden", "年度累计个人负担（元）"),
    ("threshold", "监测线（元）"), ("claims", "结算笔数"),
)


def _scope(principal: Principal, region: Any) -> str:
    principal.require(WATCH_LIST)
    if region in (None, ""):
        if principal.region is None:
            raise InputError("region", "请指定地区代码", "region required")
        return principal.region
    code = get_region(region, "region").code
    if principal.role != "admin" and (principal.region is None or not is_within(code, principal.region)):
        raise Forbidden(f"地区 {code} 不在本令牌的地区 {principal.region} 范围内",
                        "region outside the token's region", role=principal.role,
                        action=WATCH_LIST)
    return code


def compute(uow: UnitOfWork, principal: Principal, day: Any = None, region: Any = None
            ) -> dict[str, Any]:
    """The lists on ``day`` (default today) for the persons insured in ``region``."""
    on = Body({"date": day}, ("date",)).date("date", default=today(), past=False)
    assert on is not None
    code = _scope(principal, region)
    contexts: dict[str, Context] = {}
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    with uow:
        for person, burden, claims in uow.casework.burdens(
                on.year, dt.datetime.combine(on + dt.timedelta(days=1), dt.time())):
            if not is_within(person.region, code) or burden <= 0:
                continue
            ctx = contexts.get(person.region)
            if ctx is None:
                ctx = contexts[person.region] = context(on, person.region, trace=False)
            held = categories_on(person, on)
            key, threshold = watch_list_status(ctx, held, burden)
            for w in ctx.warnings:
                if w not in warnings:
                    warnings.append(w)
            if key == "none":
                continue
            rows.append({
                "list": key, "list_name": dict(WATCH_LISTS)[key], "psn_no": person.psn_no,
                "psn_name": person.psn_name,
                "certno": person.certno if principal.sees_certno else mask_certno(person.certno),
                "region": person.region, "region_name": get_region(person.region).name,
                "categories": list(held),
                "categories_names": "、".join(CATEGORIES[c] for c in held) or "无",
                "annual_personal_burden": format_fen(burden), "threshold": format_fen(threshold),
                "claims": claims, "_burden": burden,
            })
    rows.sort(key=lambda r: (r["list"], -r["_burden"], r["psn_no"]))
    for r in rows:
        del r["_burden"]
    counts = {k: sum(1 for r in rows if r["list"] == k) for k, _ in WATCH_LISTS if k != "none"}
    return {"date": on.isoformat(), "year": on.year, "region": code,
            "region_name": get_region(code).name, "departments": list(DEPARTMENTS),
            "counts": counts, "persons": rows, "warnings": warnings,
            "source": "POLICY.md §3.5；002_e6e604b5a3b60eed.txt；监测线见参数 "
                      "medical.monitoring.*.threshold"}


def title(data: dict[str, Any]) -> str:
    return f"因病返贫致贫监测名单（{data['region_name']} {data['region']}，截至 {data['date']}）"


def export_csv(data: dict[str, Any]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([label for _, label in COLUMNS])
    for r in data["persons"]:
        writer.writerow(["" if r[k] is None else r[k] for k, _ in COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_xlsx(data: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "监测名单"
    ws.append([title(data)])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"报送：{'、'.join(data['departments'])}"])
    counts = data["counts"]
    ws.append([f"因病返贫监测 {counts.get('relapse_watch', 0)} 人；"
               f"因病致贫监测 {counts.get('impoverish_watch', 0)} 人"])
    ws.append([f"依据：{data['source']}"])
    ws.append([])
    ws.append([label for _, label in COLUMNS])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    money = {"annual_personal_burden", "threshold"}
    for r in data["persons"]:
        ws.append([Decimal(r[k]) if k in money else r[k] for k, _ in COLUMNS])
        for index, (k, _) in enumerate(COLUMNS, start=1):
            if k in money:
                ws.cell(row=ws.max_row, column=index).number_format = "0.00"
    for letter, width in zip("ABCDEFGHIJ", (14, 18, 12, 22, 12, 14, 24, 22, 14, 10), strict=True):
        ws.column_dimensions[letter].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def export(uow_read: UnitOfWork, uow_write: UnitOfWork, principal: Principal, day: Any,
           region: Any, fmt: str) -> tuple[bytes, str, str]:
    """The export as ``(bytes, media type, file name)``; the export is audited."""
    if fmt not in ("csv", "xlsx"):
        raise InputError("format", f"导出格式应为 csv 或 xlsx：{fmt!r}", "format must be csv or xlsx")
    data = compute(uow_read, principal, day, region)
    content = export_csv(data) if fmt == "csv" else export_xlsx(data)
    with uow_write:
        audit(uow_write, principal, "watch_list.exported", "watch_list",
              f"{data['region']}:{data['date']}",
              {"format": fmt, "date": data["date"], "region": data["region"],
               "counts": data["counts"], "departments": data["departments"]})
        uow_write.commit()
    name = f"watch-list-{data['region']}-{data['date']}.{fmt}"
    return content, FORMATS[fmt], name

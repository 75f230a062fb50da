"""Demo data (演示数据) for ``minsheng serve --demo`` / ``make run``.

Persons of every assistance category (and none) in Jilin (长春市南关区 220102) and Shanxi
(太原市小店区 140105), residents and one employee each, with valid resident ids
(GB 11643 check character); a few settlements per person in 2023; and one fresh token per
role. Persons and settlements are created idempotently (fixed ``psn_no`` and ``setl_id``:
loading twice changes nothing); the demo tokens are renewed on each load (the previous
demo tokens are revoked), since a token's secret is shown only once.

Names and numbers are invented for the demonstration. Settlements use the shipped
parameters, so their replies carry the warnings of any example parameter used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import MinshengError
from minsheng.core.resident_id import make_certno
from minsheng.service import persons, settlements
from minsheng.service.auth import ROLES, SYSTEM, create_token, revoke_token
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork, factory

DEMO_LABEL = "demo"
PROVINCES = {"220102": ("JL", "吉林"), "140105": ("SX", "山西")}
NAMES = ("王秀英", "李建国", "张桂兰", "刘志强", "陈淑珍", "杨海燕", "赵德胜", "黄丽华",
         "周晓明", "吴玉梅", "孙长林")
# (month, med_type, hosp_lv, in_province, total, full own-pay, class-B first share, over limit)
CLAIMS = (
    (3, "11", 1, True, "286.40", "32.00", "12.80", "0.00"),
    (5, "14", 2, True, "1850.00", "120.00", "95.50", "0.00"),
    (8, "21", 3, True, "48620.35", "1530.00", "3120.40", "210.00"),
    (10, "21", 2, False, "23150.80", "880.00", "1504.20", "0.00"),
)


@dataclass
class DemoSummary:
    persons_created: int = 0
    settlements_created: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def demo_persons() -> list[dict[str, Any]]:
    """The demo persons: per province one per category, one with none, one employee."""
    people: list[dict[str, Any]] = []
    for region, (prefix, _) in PROVINCES.items():
        kinds: list[tuple[str, list[str]]] = [(key, [key]) for key in CATEGORIES]
        kinds += [("none", []), ("employee", [])]
        for i, (kind, categories) in enumerate(kinds):
            born = dt.date(1950 + 4 * i, 1 + i % 12, 1 + (7 * i) % 28)
            people.append({
                "psn_no": f"DEMO-{prefix}-{i + 1:02d}",
                "insutype": "310" if kind == "employee" else "390",
                "region": region,
                "psn_name": NAMES[i % len(NAMES)],
                "certno": make_certno(region, born, 100 + i),
                "categories": categories,
            })
    return people


def demo_claims(psn_no: str) -> list[dict[str, Any]]:
    return [{"setl_id": f"{psn_no}-2023-{n + 1}", "psn_no": psn_no,
             "setl_time": f"2023-{month:02d}-{10 + n:02d}T09:30:00", "med_type": med_type,
             "hosp_lv": lv, "in_province": inp, "medfee_sumamt": total,
             "fulamt_ownpay_amt": own, "preselfpay_amt": first, "overlmt_selfpay": over}
            for n, (month, med_type, lv, inp, total, own, first, over) in enumerate(CLAIMS)]


def load_demo(db: Database) -> DemoSummary:
    """Create what is missing and renew the demo tokens; return what was done."""
    summary = DemoSummary()
    uow = factory(db)
    people = demo_persons()
    for body in people:
        with UnitOfWork(db) as w:
            exists = w.persons.get(body["psn_no"]) is not None
        if not exists:
            persons.create_person(uow(write=True), SYSTEM, body)
            summary.persons_created += 1
        for claim in demo_claims(body["psn_no"]):
            try:
                reply = settlements.settle(uow, SYSTEM, claim)
            except MinshengError as exc:  # e.g. a parameter not encoded for that region
                summary.problems.append(f"{claim['setl_id']}：{exc.message}")
                break
            summary.settlements_created += 0 if reply.replayed else 1
    citizen = people[1]["psn_no"]
    with UnitOfWork(db, write=True) as w:
        for old in w.tokens.list():
            if old.label.startswith(DEMO_LABEL) and old.revoked_at is None:
                revoke_token(w, old.id)
        for role in ROLES:
            region = {"agency": "220000", "hospital": "220100"}.get(role)
            psn_no = citizen if role == "citizen" else None
            _, secret = create_token(w, role, region=region, psn_no=psn_no,
                                     label=f"{DEMO_LABEL}:{role}")
            summary.tokens[role] = secret
        w.commit()
    return summary


def describe(summary: DemoSummary) -> str:
    """What ``minsheng serve --demo`` prints about the demo data and tokens (Chinese)."""
    lines = [f"演示数据：新建参保人 {summary.persons_created} 人，新建结算 "
             f"{summary.settlements_created} 笔（已有的保持不变）。"]
    lines += [f"  未能结算：{p}" for p in summary.problems[:5]]
    lines.append("演示令牌（每次启动重新生成，旧的演示令牌已撤销）：")
    scope = {"agency": "吉林省 220000", "hospital": "长春市 220100",
             "citizen": f"本人 {demo_persons()[1]['psn_no']}"}
    for role, secret in summary.tokens.items():
        lines.append(f"  {role:<9} {ROLES[role]}（{scope.get(role, '全部')}）：{secret}")
    lines.append('  用法：curl -H "Authorization: Bearer 令牌" http://…/api/v1/persons/DEMO-JL-02')
    return "\n".join(lines)

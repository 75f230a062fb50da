"""The printable settlement statement (医疗费用结算单), as an HTML page in Chinese."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment

from minsheng.core.categories import CATEGORIES
from minsheng.core.money import format_yuan_grouped
from minsheng.core.resident_id import mask_certno
from minsheng.service.models import Person, Settlement

MED_TYPES = {"11": "普通门诊", "14": "门诊慢特病", "21": "住院"}
HOSP_LEVELS = {0: "村卫生室", 1: "一级", 2: "二级", 3: "三级"}
INSUTYPES = {"390": "城乡居民基本医疗保险", "310": "职工基本医疗保险"}
FUNDS = {"390100": "城乡居民基本医疗保险统筹基金", "310100": "职工基本医疗保险统筹基金",
         "390200": "城乡居民大病保险", "610100": "医疗救助基金"}

TEMPLATE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>医疗费用结算单 {{ s.setl_id }}</title>
<style>
 body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
        max-width: 52rem; margin: 2rem auto; color: #111; }
 h1 { text-align: center; font-size: 1.5rem; letter-spacing: .3em; }
 table { width: 100%; border-collapse: collapse; margin: .8rem 0; }
 th, td { border: 1px solid #444; padding: .35rem .5rem; text-align: left; }
 td.money { text-align: right; font-variant-numeric: tabular-nums; }
 th { background: #f2f2f2; width: 22%; }
 .reversed { color: #b00; border: 3px solid #b00; padding: .5rem; font-weight: bold; }
 .note { font-size: .85rem; color: #555; }
 @media print { .noprint { display: none; } }
</style>
</head>
<body>
<h1>医疗费用结算单</h1>
{% if s.status == "reversed" %}
<p class="reversed">本结算已撤销（{{ s.reversed_at.isoformat(timespec="seconds") }}，
经办：{{ s.reversed_by }}，原因：{{ s.reversal_reason }}）。以下为原结算记录，仅供查询。</p>
{% endif %}
<table>
 <tr><th>结算流水号</th><td>{{ s.setl_id }}</td><th>结算时间</th><td>{{ s.setl_time.isoformat() }}</td></tr>
 <tr><th>个人编号</th><td>{{ s.psn_no }}</td><th>姓名</th><td>{{ p.psn_name or "—" }}</td></tr>
 <tr><th>身份证号</th><td>{{ certno or "—" }}</td><th>险种</th><td>{{ insutype }}</td></tr>
 <tr><th>参保地</th><td>{{ region_name }}（{{ s.region }}）</td>
     <th>救助对象类别</th><td>{{ categories or "无" }}</td></tr>
 <tr><th>医疗类别</th><td>{{ med_type }}</td>
     <th>医疗机构等级</th><td>{{ hosp_lv }}（{{ "省内" if s.in_province else "省外" }}就医）</td></tr>
</table>
<table>
 <tr><th colspan="2">费用（元）</th></tr>
 <tr><td>医疗费用总额</td><td class="money">{{ y(s.medfee_sumamt) }}</td></tr>
 <tr><td>全自费金额</td><td class="money">{{ y(s.fulamt_ownpay_amt) }}</td></tr>
 <tr><td>先行自付金额（乙类）</td><td class="money">{{ y(s.preselfpay_amt) }}</td></tr>
 <tr><td>超限价自付金额</td><td class="money">{{ y(s.overlmt_selfpay) }}</td></tr>
 <tr><td>政策范围内费用</td><td class="money">{{ y(s.inscp_scp_amt) }}</td></tr>
 <tr><td>本次起付标准自付</td><td class="money">{{ y(s.act_pay_dedc) }}</td></tr>
</table>
<table>
 <tr><th>基金</th><th>支付金额（元）</th><th>本年剩余支付限额（元）</th></tr>
 {% for d in details %}
 <tr><td>{{ d.name }}（{{ d.code }}）</td><td class="money">{{ d.amount }}</td>
     <td class="money">{{ d.room }}</td></tr>
 {% endfor %}
 <tr><td>基本医保统筹基金支付</td><td class="money">{{ y(s.hifp_pay) }}</td><td></td></tr>
 <tr><td>大病保险支付</td><td class="money">{{ y(s.hifmi_pay) }}</td><td></td></tr>
 <tr><td>医疗救助支付</td><td class="money">{{ y(s.maf_pay) }}</td><td></td></tr>
 <tr><th>基金支付合计</th><td class="money"><b>{{ y(s.fund_pay_sumamt) }}</b></td><td></td></tr>
 <tr><th>个人负担</th><td class="money"><b>{{ y(s.psn_part_amt) }}</b></td><td></td></tr>
</table>
{% if warnings %}
<p class="note">注意：{% for w in warnings %}{{ w }}{% if not loop.last %}；{% endif %}{% endfor %}</p>
{% endif %}
<p class="note">结算经办：{{ s.settled_by }}，{{ s.settled_at.isoformat(timespec="seconds") }}。
金额单位为元，四舍五入到分。计算依据见结算记录的计算过程（GET /api/v1/settlements/{{ s.setl_id }}）。</p>
<p class="noprint"><button onclick="window.print()">打印</button></p>
</body>
</html>
"""

_env = Environment(autoescape=True)
_template = _env.from_string(TEMPLATE)


def _details(reply: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for d in reply.get("setldetail") or []:
        code = str(d.get("fund_pay_type", ""))
        room = d.get("crt_payb_lmt_amt")
        rows.append({"code": code, "name": FUNDS.get(code, code),
                     "amount": str(d.get("fund_payamt", "")),
                     "room": "不设限额" if room is None else str(room)})
    return rows


def render_statement(s: Settlement, person: Person, region_name: str,
                     full_certno: bool) -> str:
    reply = json.loads(s.full_reply)
    certno = person.certno if full_certno else mask_certno(person.certno)
    categories = "、".join(CATEGORIES.get(c, c) for c in s.categories.split(",") if c)
    return _template.render(
        s=s, p=person, certno=certno, region_name=region_name,
        insutype=INSUTYPES.get(s.insutype, s.insutype), categories=categories,
        med_type=MED_TYPES.get(s.med_type, s.med_type),
        hosp_lv=HOSP_LEVELS.get(s.hosp_lv, str(s.hosp_lv)),
        details=_details(reply), warnings=reply.get("warnings") or [],
        y=format_yuan_grouped)

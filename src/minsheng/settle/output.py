"""Settlement results as the JSON of SETTLEMENT.md / CONTRACT.md (money as ``"0.00"``)."""

from __future__ import annotations

from typing import Any

from minsheng.core.money import format_fen
from minsheng.rules.settlement import Settlement

FUND_BASIC = {"390": "390100", "310": "310100"}
FUND_CRITICAL = "390200"
FUND_ASSISTANCE = "610100"


def setldetail(result: Settlement, k: int, insutype: str) -> list[dict[str, Any]]:
    """One entry per fund that paid on the k-th claim, with the cap room left (if capped)."""
    entries: list[dict[str, Any]] = []
    for code, paid, left in (
        (FUND_BASIC[insutype], result.hifp_pay, result.basic_cap_left),
        (FUND_CRITICAL, result.hifmi_pay, result.critical_cap_left),
        (FUND_ASSISTANCE, result.maf_pay, result.assistance_cap_left),
    ):
        amount = int(paid[k])
        if amount <= 0:
            continue
        entry: dict[str, Any] = {"fund_pay_type": code, "fund_payamt": format_fen(amount)}
        if int(left[k]) >= 0:
            entry["crt_payb_lmt_amt"] = format_fen(int(left[k]))
        entries.append(entry)
    return entries


def claim_json(result: Settlement, k: int, setl_id: str, psn_no: str, insutype: str
               ) -> dict[str, Any]:
    """The per-claim outputs of the k-th claim of a settled batch."""
    out: dict[str, Any] = {"setl_id": setl_id, "psn_no": psn_no}
    for name in Settlement.OUTPUTS:
        out[name] = format_fen(int(getattr(result, name)[k]))
    out["setldetail"] = setldetail(result, k, insutype)
    return out


ACCUMULATOR_TOTALS = ("medfee_sumamt", "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay",
                      "psn_part_amt")


def person_year_json(result: Settlement, s: int, psn_no: str) -> dict[str, Any]:
    """Cumulative totals of person-year ``s`` after the batch (before the watch list)."""
    cols = result.after.columns
    out: dict[str, Any] = {"psn_no": psn_no, "year": int(result.after.year[s])}
    for name in ACCUMULATOR_TOTALS:
        out[name] = format_fen(int(cols[name][s]))
    fund = int(cols["hifp_pay"][s]) + int(cols["hifmi_pay"][s]) + int(cols["maf_pay"][s])
    out["fund_pay_sumamt"] = format_fen(fund)
    return out

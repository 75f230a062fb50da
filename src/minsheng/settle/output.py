"""Settlement results as the JSON of SETTLEMENT.md / CONTRACT.md (money as ``"0.00"``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from minsheng.core.money import format_fen
from minsheng.rules.settlement import Settlement

FUND_BASIC = {"390": "390100", "310": "310100"}
FUND_CRITICAL = "390200"
FUND_ASSISTANCE = "610100"
CAPS_LEFT = ("basic_cap_left", "critical_cap_left", "assistance_cap_left")
"""The cap room left after a claim, per fund (negative: the fund has no cap)."""


def fund_details(insutype: str, paid: Sequence[int], left: Sequence[int]
                 ) -> list[dict[str, Any]]:
    """One entry per fund that paid (``paid``: basic, critical, assistance, in fen), with the
    cap room left (``left``, same order; negative: no cap)."""
    entries: list[dict[str, Any]] = []
    for code, amount, room in zip((FUND_BASIC[insutype], FUND_CRITICAL, FUND_ASSISTANCE),
                                  paid, left, strict=True):
        if amount <= 0:
            continue
        entry: dict[str, Any] = {"fund_pay_type": code, "fund_payamt": format_fen(amount)}
        if room >= 0:
            entry["crt_payb_lmt_amt"] = format_fen(room)
        entries.append(entry)
    return entries


def reply_json(amounts: Mapping[str, int], left: Sequence[int], setl_id: str, psn_no: str,
               insutype: str) -> dict[str, Any]:
    """A claim's outputs from its amounts in fen (:attr:`Settlement.OUTPUTS`) and its cap
    room left (:data:`CAPS_LEFT`)."""
    out: dict[str, Any] = {"setl_id": setl_id, "psn_no": psn_no}
    for name in Settlement.OUTPUTS:
        out[name] = format_fen(amounts[name])
    out["setldetail"] = fund_details(
        insutype, (amounts["hifp_pay"], amounts["hifmi_pay"], amounts["maf_pay"]), left)
    return out


def claim_json(result: Settlement, k: int, setl_id: str, psn_no: str, insutype: str
               ) -> dict[str, Any]:
    """The per-claim outputs of the k-th claim of a settled batch."""
    return reply_json({name: int(getattr(result, name)[k]) for name in Settlement.OUTPUTS},
                      [int(getattr(result, name)[k]) for name in CAPS_LEFT],
                      setl_id, psn_no, insutype)


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

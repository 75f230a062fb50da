"""Which benefit an outpatient visit settles under, given the person's recognitions (pure).

001 measure 15 (结算“合理化”): an outpatient visit settles first under the outpatient
chronic/special-disease (门诊慢特病) or dual-channel drug (双通道药品) benefits.
001 measure 16 (“最优享”): with a special-disease filing, dual-channel drugs of the same
disease settle under the special-disease benefits.

Reading: a claim may name its ``disease``; then only a recognition of that disease counts.
A claim that names none, from a person holding a recognition valid on the claim date, is
taken to be for the recognised disease (the issue's rule: an outpatient ``11`` of such a
person settles as ``14``). The settlement kernel has no separate dual-channel tier, so a
dual-channel drug without a special-disease recognition of the same disease settles as sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from minsheng.rules.remote_care import DISEASES, disease_key


class RecognitionLike(Protocol):
    id: str
    kind: str
    disease: str
    drug: str | None
    status: str
    valid_from: dt.date | None
    valid_to: dt.date | None


def disease_name(key: str) -> str:
    return DISEASES.get(key, key)


def same_disease(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and disease_key(a) == disease_key(b)


def same_drug(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def valid_on(rec: RecognitionLike, day: dt.date) -> bool:
    """Approved (or revoked later) and ``day`` inside its validity."""
    if rec.status not in ("approved", "revoked") or rec.valid_from is None:
        return False
    return rec.valid_from <= day and (rec.valid_to is None or day <= rec.valid_to)


@dataclass(frozen=True)
class Choice:
    as_chronic: bool
    rule: str  # chronic_priority | best_benefit | none
    reason: str
    recognition_id: str | None = None
    disease: str | None = None


def choose(recognitions: Sequence[RecognitionLike], day: dt.date, *, disease: str | None = None,
           drug: str | None = None) -> Choice:
    """How an outpatient ``11`` visit on ``day`` settles (see the module docstring)."""
    valid = [r for r in recognitions if valid_on(r, day)]
    chronic = [r for r in valid if r.kind == "chronic_disease"]
    if drug is not None:
        dual = [r for r in valid if r.kind == "dual_channel_drug" and same_drug(r.drug, drug)]
        if not dual:
            return Choice(False, "none", f"参保人在 {day.isoformat()} 没有双通道药品“{drug}”的有效备案，"
                                         "按所报医疗类别结算")
        filed = dual[0]
        match = [r for r in chronic if same_disease(r.disease, filed.disease)]
        if match:
            return Choice(True, "best_benefit",
                          f"已办理{disease_name(filed.disease)}门诊特病认定（{match[0].id}），相同病种的"
                          f"双通道药品“{filed.drug}”（备案 {filed.id}）按门诊特病兑现待遇（最优享）",
                          match[0].id, filed.disease)
        return Choice(False, "none",
                      f"双通道药品“{filed.drug}”已备案（{filed.id}），但没有相同病种的门诊特病认定；"
                      "双通道药品待遇未单独编码，按所报医疗类别结算")
    if disease is not None:
        chronic = [r for r in chronic if same_disease(r.disease, disease)]
    if not chronic:
        if disease is None:
            return Choice(False, "none", "")
        return Choice(False, "none", f"参保人在 {day.isoformat()} 没有{disease_name(disease_key(disease) or disease)}"
                                     "的有效门诊慢特病认定，按普通门诊待遇结算")
    rec = chronic[0]
    return Choice(True, "chronic_priority",
                  f"参保人已认定门诊慢特病{disease_name(rec.disease)}（{rec.id}，{rec.valid_from}起有效），"
                  "门诊就医优先按门诊慢特病待遇结算（医疗类别 11 → 14）", rec.id, rec.disease)


def recognised_disease(recognitions: Sequence[RecognitionLike], day: dt.date) -> str | None:
    """The disease of the first chronic/special-disease recognition valid on ``day``."""
    for r in recognitions:
        if r.kind == "chronic_disease" and valid_on(r, day):
            return r.disease
    return None

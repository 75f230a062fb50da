"""The settlement service's two casework hooks: the place of care, and the benefit priority.

A claim sent to ``POST /api/v1/settlements`` may carry, beside the fields of SETTLEMENT.md:

- ``care_region``: where the care took place — a region code of the tree, or any 6-digit
  code of a province outside it (``460000``, ``460100``); its province is derived;
- ``visit``: ``emergency`` (急诊) or ``emergency_observation`` (急诊留观、急诊抢救);
- ``discharge_time``: when the visit was discharged (default: ``setl_time``), compared with
  the time the remote-care filing was made;
- ``disease``: the outpatient chronic/special disease the visit is for;
- ``dual_channel_drug``: the dual-channel drug (双通道药品) dispensed.

:meth:`CareRequest.route` runs inside the settlement's transaction, with the person's row
locked, before the kernel:

1. an ordinary outpatient ``11`` of a person holding a chronic/special-disease recognition
   valid on the claim date settles as ``14`` (001 measures 15 and 16; see :mod:`.priority`);
2. when ``care_region`` lies outside the insured city, the person's filings for that province
   give the filing status (before discharge / after discharge / none, see
   :func:`.filings.filing_status`) and :func:`minsheng.rules.remote_care.decide_route` —
   the same rules as the ``remote_care_route`` calculation — decides. A direct settlement
   settles under the route's benefit (``outpatient`` 11, ``chronic`` 14, ``inpatient`` 21:
   an emergency observation settles as 21; an emergency keeps its type). A refusal raises
   :class:`DirectSettlementRefused`: **409** with the reason, ``manual_reimbursement: true``
   and the route's trace; nothing is settled, nothing is stored.

Why 409 and not 422: 422 in this project means "a field of the request is wrong" (exit 2 on
the command line); here every field is right, but the person's filings (stored state) do not
allow a direct settlement — the same family as the 409 for a year already settled under the
other insurance type. The hospital should not resend the claim unchanged; the person applies
for manual reimbursement at the insured place (or files first, where the rules allow).

A claim with none of these fields is settled exactly as before, with the same idempotency
hash; with them, the hash covers them too (:meth:`CareRequest.digest`), so a retry with a
different place of care is a 409 like any other changed claim.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minsheng.core.calculation import Context
from minsheng.core.dates import parse_datetime
from minsheng.core.errors import InputError, MinshengError
from minsheng.core.regions import get_region, province_of
from minsheng.rules.remote_care import decide_route, disease_key
from minsheng.service.audit import canonical_json
from minsheng.service.casework import priority
from minsheng.service.casework.common import Place, context, insured_city, place
from minsheng.service.casework.filings import filing_status
from minsheng.service.kernel import Claim
from minsheng.service.models import Person
from minsheng.service.unit_of_work import UnitOfWork

CARE_FIELDS = ("care_region", "visit", "discharge_time", "disease", "dual_channel_drug")
VISITS = {"emergency": "急诊", "emergency_observation": "急诊留观、急诊抢救"}
ROUTE_MED_TYPE = {"outpatient": "11", "chronic": "14", "inpatient": "21"}
VISIT_OF_MED_TYPE = {"11": "ordinary_outpatient", "14": "chronic_outpatient", "21": "inpatient"}


class DirectSettlementRefused(MinshengError):
    """The claim cannot be settled directly; the person is reimbursed at the insured place."""

    status = 409
    kind = "direct_settlement_refused"


@dataclass
class CareRequest:
    claim: Any  # the raw claim without the casework fields
    fields: dict[str, Any] = field(default_factory=dict)  # as given, canonical (for the digest)
    care: Place | None = None
    visit: str | None = None
    discharge: dt.datetime | None = None
    disease: str | None = None
    drug: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    ctx: Context | None = None

    def digest(self, base: str) -> str:
        """The idempotency hash: ``base`` unchanged when no casework field was sent."""
        if not self.fields:
            return base
        return hashlib.sha256((base + canonical_json(self.fields)).encode("utf-8")).hexdigest()

    def route(self, uow: UnitOfWork, person: Person, claim: Claim) -> Claim:
        """The claim to settle (its ``med_type`` may change), or :class:`DirectSettlementRefused`.

        The route is kept in the stored reply (``route``) and trace; the settlement's own
        audit entry carries the request hash, which covers the casework fields. No entry is
        appended here: the audit head is locked only around the settlement's own entry."""
        if self.discharge is not None and self.discharge > claim.setl_time:
            raise InputError("discharge_time", "出院时间晚于结算时间 setl_time",
                             "discharge_time after setl_time")
        day = claim.setl_time.date()
        med_type = claim.med_type
        notes: list[str] = []
        disease = self.disease
        if med_type == "14" and disease is None and self.care is not None:
            disease = priority.recognised_disease(uow.casework.recognitions(person.psn_no), day)
        if med_type == "11" and self.visit is None:  # one indexed read; inpatient claims skip it
            choice = priority.choose(uow.casework.recognitions(person.psn_no), day,
                                     disease=self.disease, drug=self.drug)
            if choice.as_chronic:
                ctx = self._context(person, day)
                name = ("casework.settlement.best_benefit" if choice.rule == "best_benefit"
                        else "casework.settlement.chronic_priority")
                ctx.rule("priority", choice.reason, ctx.resolve(name).reference)
                med_type, disease = "14", choice.disease
                self.info["recognition_id"] = choice.recognition_id
                self.info["priority_rule"] = choice.rule
            if choice.reason:
                notes.append(choice.reason)
        if self.care is not None:
            med_type = self._remote(uow, person, claim, med_type, disease, notes)
        elif self.visit is not None or self.discharge is not None:
            raise InputError("care_region" if self.visit is None else "visit",
                             "就诊类型和出院时间用于异地就医，请同时填写就医地 care_region",
                             "visit and discharge_time need care_region")
        if not notes and med_type == claim.med_type and not self.fields:
            return claim
        self.info.update({"requested_med_type": claim.med_type, "med_type": med_type,
                          "reasons": notes})
        return dataclasses.replace(claim, med_type=med_type)

    def _context(self, person: Person, day: dt.date) -> Context:
        if self.ctx is None:
            self.ctx = context(day, person.region)
        return self.ctx

    def _remote(self, uow: UnitOfWork, person: Person, claim: Claim, med_type: str,
                disease: str | None, notes: list[str]) -> str:
        assert self.care is not None
        care = self.care
        self.info.update({"care_region": care.code, "care_region_name": care.name,
                          "care_province": care.province})
        if care.known and care.city == insured_city(person.region):
            if not claim.in_province:
                raise InputError("in_province", f"就医地 {care.name} 在参保地统筹地区内，应为省内就医（true）",
                                 "care in the insured city is in the province")
            self.info["scope"] = "local"
            notes.append(f"就医地 {care.name} 在参保地（{get_region(insured_city(person.region)).name}）"
                         "统筹地区内，不属于异地就医")
            return med_type
        scope = "in_province" if care.province == province_of(person.region) else "cross_province"
        if claim.in_province != (scope == "in_province"):
            raise InputError("in_province", f"就医地 {care.name} 与参保地"
                             f"{'同省' if scope == 'in_province' else '不同省'}，in_province 应为 "
                             f"{'true' if scope == 'in_province' else 'false'}",
                             "in_province contradicts care_region")
        visit = self.visit or VISIT_OF_MED_TYPE[med_type]
        discharge = self.discharge or claim.setl_time
        status = filing_status(uow.casework.filings(person.psn_no, care.province), person,
                               discharge)
        ctx = self._context(person, claim.setl_time.date())
        route = decide_route(ctx, scope, visit, status.filing, disease)
        self.info.update({"scope": scope, "visit": visit, "filing": status.filing,
                          "filing_id": status.filing_id,
                          "direct_settlement": route.direct_settlement,
                          "settle_as": route.settle_as,
                          "manual_reimbursement": route.manual_reimbursement})
        notes.append(route.reason)
        if not route.direct_settlement:
            raise DirectSettlementRefused(
                f"不能直接结算：{route.reason}", "no direct settlement: apply for manual "
                "reimbursement at the insured place", reason=route.reason,
                manual_reimbursement=True, setl_id=claim.setl_id, psn_no=person.psn_no,
                **{k: v for k, v in self.info.items() if k not in ("direct_settlement",
                                                                  "manual_reimbursement")},
                trace=ctx.trace.to_json())
        if visit == "emergency":
            return med_type
        return ROUTE_MED_TYPE[route.settle_as]

    def annotate(self, result: Any) -> None:
        """Add the route to the reply and its trace to the settlement's trace."""
        if not self.info:
            return
        result.reply["route"] = self.info
        if self.ctx is not None:
            result.trace.extend(self.ctx.trace.to_json())


def take(raw: Any) -> CareRequest:
    """Split the casework fields off a claim; each bad value is an error naming its field."""
    if not isinstance(raw, Mapping) or not any(k in raw for k in CARE_FIELDS):
        return CareRequest(raw)
    rest = {k: v for k, v in raw.items() if k not in CARE_FIELDS}
    req = CareRequest(rest)
    given = {k: raw[k] for k in CARE_FIELDS if raw.get(k) not in (None, "")}
    if "care_region" in given:
        req.care = place(given["care_region"], "care_region")
    if "visit" in given:
        text = str(given["visit"]).strip()
        key = next((k for k, zh in VISITS.items() if text in (k, zh)), None)
        if key is None:
            raise InputError("visit", f"就诊类型应为 emergency（急诊）或 emergency_observation"
                             f"（急诊留观、急诊抢救）：{text!r}", "visit must be emergency or "
                             "emergency_observation")
        req.visit = key
    if "discharge_time" in given:
        req.discharge = parse_datetime(given["discharge_time"], "discharge_time")
    for name in ("disease", "dual_channel_drug"):
        if name in given:
            value = given[name]
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
                raise InputError(name, "应为1至100个字符的文本", "1-100 characters of text")
    if "disease" in given:
        req.disease = disease_key(given["disease"])
    if "dual_channel_drug" in given:
        req.drug = given["dual_channel_drug"].strip()
    req.fields = {k: str(v).strip() for k, v in given.items()}
    if req.discharge is not None:
        req.fields["discharge_time"] = req.discharge.isoformat()
    return req


"""Access: bearer tokens (stored as sha256 of the secret), roles and their region scope.

Roles (CONTRACT.md), what they may do, and their scope:

- ``admin`` 系统管理员: everything, incl. the audit trail; all regions.
- ``agency`` 医保经办机构: register and change persons, settle (manual reimbursement),
  reverse, read; its region and the regions below it.
- ``hospital`` 定点医疗机构: settle claims, reverse them, read what billing needs
  (resident id masked); its region and below if it has one, else all.
- ``analyst`` 分析人员: calculations, batch and reports (open routes) — no personal data.
- ``citizen`` 参保人: read its own person, settlements and accumulators (resident id
  masked); its own ``psn_no``.

No token, an unknown or revoked one: 401. A token outside its role or scope: 403.
Only ``admin`` and ``agency`` see resident ids whole.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from minsheng.core.errors import InputError, MinshengError
from minsheng.core.regions import get_region, is_within
from minsheng.service.audit import canonical_json, now
from minsheng.service.models import ApiToken
from minsheng.service.unit_of_work import UnitOfWork

ROLES: dict[str, str] = {
    "admin": "系统管理员",
    "agency": "医保经办机构",
    "hospital": "定点医疗机构",
    "analyst": "分析人员",
    "citizen": "参保人",
}

# What each role may do (before its scope is checked).
PERSON_WRITE = "person.write"
PERSON_READ = "person.read"
SETTLE = "settle"
REVERSE = "reverse"
SETTLEMENT_READ = "settlement.read"
ACCUMULATORS_READ = "accumulators.read"
AUDIT_READ = "audit.read"
ACTIONS: dict[str, str] = {
    PERSON_WRITE: "登记或变更参保人",
    PERSON_READ: "查询参保人",
    SETTLE: "结算",
    REVERSE: "撤销结算",
    SETTLEMENT_READ: "查询结算记录和结算单",
    ACCUMULATORS_READ: "查询年度累计",
    AUDIT_READ: "查看审计日志",
}
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "agency": frozenset({PERSON_WRITE, PERSON_READ, SETTLE, REVERSE, SETTLEMENT_READ,
                         ACCUMULATORS_READ}),
    "hospital": frozenset({PERSON_READ, SETTLE, REVERSE, SETTLEMENT_READ, ACCUMULATORS_READ}),
    "analyst": frozenset(),
    "citizen": frozenset({PERSON_READ, SETTLEMENT_READ, ACCUMULATORS_READ}),
}

# Casework (issue 5, minsheng.service.casework): agencies handle cases of their region;
# treating institutions file recognitions; citizens apply online for themselves; social
# assistance is further limited by the staff level (village, township, county) of the token.
CASEWORK = "casework.handle"
CASEWORK_APPLY = "casework.apply"
CASEWORK_READ = "casework.read"
RECOGNISE = "casework.recognise"
ASSISTANCE = "casework.assistance"
WATCH_LIST = "watch_list.read"
ACTIONS.update({
    CASEWORK: "办理医保经办业务（备案、转移接续、认定审核、轧差报销）",
    CASEWORK_APPLY: "申请异地就医备案、转移接续或慢特病认定",
    CASEWORK_READ: "查询经办业务办理进度",
    RECOGNISE: "在定点医疗机构办理门诊慢特病、双通道药品认定",
    ASSISTANCE: "办理社会救助审批",
    WATCH_LIST: "查询和导出因病返贫致贫监测名单",
})
ROLE_ACTIONS["admin"] = frozenset(ACTIONS)
ROLE_ACTIONS["agency"] |= {CASEWORK, CASEWORK_APPLY, CASEWORK_READ, RECOGNISE, ASSISTANCE,
                           WATCH_LIST}
ROLE_ACTIONS["hospital"] |= {CASEWORK_READ, RECOGNISE}
ROLE_ACTIONS["citizen"] |= {CASEWORK_APPLY, CASEWORK_READ}
TOKEN_PREFIX = "msk_"


class Unauthorized(MinshengError):
    status = 401
    kind = "unauthorized"


class Forbidden(MinshengError):
    status = 403
    kind = "forbidden"


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token's id, role and scope."""

    token_id: str
    role: str
    region: str | None = None
    psn_no: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.token_id}"

    @property
    def sees_certno(self) -> bool:
        return self.role in ("admin", "agency")

    def may(self, action: str) -> bool:
        return action in ROLE_ACTIONS[self.role]

    def require(self, action: str) -> None:
        """403 unless the role may do ``action`` at all."""
        if not self.may(action):
            raise Forbidden(f"角色 {self.role}（{ROLES[self.role]}）无权{ACTIONS[action]}",
                            f"role {self.role} may not {action}", role=self.role,
                            action=action)

    def covers(self, region: str, psn_no: str) -> bool:
        if self.role == "citizen":
            return self.psn_no == psn_no
        if self.role in ("agency", "hospital") and self.region is not None:
            return is_within(region, self.region)
        return self.role != "analyst"

    def require_person(self, action: str, region: str, psn_no: str) -> None:
        """403 unless the role may do ``action`` for this person (region or own psn_no)."""
        self.require(action)
        if not self.covers(region, psn_no):
            if self.role == "citizen":
                raise Forbidden("参保人只能查询本人的信息", "a citizen reads only its own psn_no",
                                role=self.role, action=action)
            raise Forbidden(f"参保人 {psn_no} 的参保地 {region} 不在本令牌的地区 {self.region} 范围内",
                            f"person {psn_no} (region {region}) is outside region {self.region}",
                            role=self.role, action=action)


SYSTEM = Principal("system", "admin")  # the command line and demo loader


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_scope(role: str, region: str | None, psn_no: str | None) -> tuple[str | None, str | None]:
    """Validate a new token's role and scope; errors name the option."""
    if role not in ROLES:
        raise InputError("role", f"未知角色 {role!r}（可用：{'、'.join(ROLES)}）",
                         f"unknown role {role!r}")
    if region is not None and region != "":
        if role in ("admin", "citizen"):
            raise InputError("region", f"角色 {role} 不按地区限定", f"role {role} has no region")
        region = get_region(region, "region").code
    else:
        region = None
    if role == "agency" and region is None:
        raise InputError("region", "经办机构令牌必须指定地区", "an agency token needs a region")
    if psn_no is not None and psn_no != "":
        if role != "citizen":
            raise InputError("psn_no", "只有参保人（citizen）令牌指定个人编号",
                             "only a citizen token has a psn_no")
    else:
        psn_no = None
    if role == "citizen" and psn_no is None:
        raise InputError("psn_no", "参保人令牌必须指定个人编号", "a citizen token needs a psn_no")
    return region, psn_no


def create_token(uow: UnitOfWork, role: str, *, region: str | None = None,
                 psn_no: str | None = None, label: str = "",
                 by: Principal = SYSTEM) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret (shown once, never stored)."""
    region, psn_no = check_scope(role, region, psn_no)
    token_id = "tok_" + secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}{token_id[4:]}_{secrets.token_urlsafe(32)}"
    token = ApiToken(id=token_id, secret_hash=hash_secret(secret), role=role, region=region,
                     psn_no=psn_no, label=label[:100], created_at=now(), created_by=by.actor)
    uow.tokens.add(token)
    uow.audit.append(by.actor, "token.created", "token", token_id, canonical_json(
        {"role": role, "region": region, "psn_no": psn_no, "label": token.label}))
    return token, secret


def revoke_token(uow: UnitOfWork, token_id: str, by: Principal = SYSTEM) -> ApiToken:
    from minsheng.core.errors import NotFound

    token = uow.tokens.get(token_id)
    if token is None:
        raise NotFound(f"未知令牌 {token_id}", f"unknown token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now()
        uow.audit.append(by.actor, "token.revoked", "token", token_id, canonical_json({}))
    return token


def bearer_secret(authorization: str | None) -> str:
    """The secret of an ``Authorization: Bearer …`` header, or 401."""
    if not authorization:
        raise Unauthorized("缺少访问令牌（Authorization: Bearer …）", "missing bearer token")
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("访问令牌格式应为 Authorization: Bearer 令牌", "expected a bearer token")
    return secret.strip()


def authenticate(uow: UnitOfWork, authorization: str | None) -> Principal:
    secret = bearer_secret(authorization)
    token = uow.tokens.by_hash(hash_secret(secret))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("访问令牌无效或已撤销", "unknown or revoked token")
    return Principal(token.id, token.role, token.region, token.psn_no)

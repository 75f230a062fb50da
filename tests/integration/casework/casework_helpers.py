"""Helpers of the casework tests: tokens of every role and level, persons, claims, steps."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from fastapi.testclient import TestClient
from service_helpers import claim_body, person_body, token, uid

from minsheng.core.money import parse_fen
from minsheng.service.auth import SYSTEM, hash_secret
from minsheng.service.casework.assistance_approval import set_staff
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork

CHANGCHUN = "220102"  # 南关区, 长春市
YANJI = "222401"  # 延吉市, 延边州: in Jilin, another city
TAIYUAN = "140105"  # 小店区, 太原市
HAINAN = "460000"


class Casework:
    """A test client with tokens; every call returns the response (status checked by tests)."""

    def __init__(self, client: TestClient, db: Database) -> None:
        self.client = client
        self.db = db

    # tokens
    @cached_property
    def admin(self) -> dict[str, str]:
        return token(self.db, "admin")

    @cached_property
    def agency_changchun(self) -> dict[str, str]:
        return token(self.db, "agency", "220100")

    @cached_property
    def agency_jilin(self) -> dict[str, str]:
        return token(self.db, "agency", "220000")

    @cached_property
    def agency_yanbian(self) -> dict[str, str]:
        return token(self.db, "agency", "222400")

    @cached_property
    def agency_shanxi(self) -> dict[str, str]:
        return token(self.db, "agency", "140000")

    @cached_property
    def hospital(self) -> dict[str, str]:
        return token(self.db, "hospital")

    @cached_property
    def hospital_changchun(self) -> dict[str, str]:
        return token(self.db, "hospital", "220100")

    @cached_property
    def analyst(self) -> dict[str, str]:
        return token(self.db, "analyst")

    def citizen(self, psn_no: str) -> dict[str, str]:
        return token(self.db, "citizen", psn_no=psn_no)

    def staff(self, level: str, region: str = CHANGCHUN, township: str | None = None,
              village: str | None = None) -> dict[str, str]:
        """An agency token registered as social-assistance staff of ``level``."""
        headers = token(self.db, "agency", region)
        secret = headers["Authorization"].split(" ", 1)[1]
        with UnitOfWork(self.db) as uow:
            tok = uow.tokens.by_hash(hash_secret(secret))
            assert tok is not None
            token_id = tok.id
        body = {"level": level, "township": township, "village": village}
        set_staff(UnitOfWork(self.db, write=True), SYSTEM, token_id,
                  {k: v for k, v in body.items() if v is not None})
        return headers

    # persons and claims
    def person(self, region: str = CHANGCHUN, categories: Any = (), insutype: str = "390",
               **extra: Any) -> str:
        psn_no = uid("C")
        r = self.client.post("/api/v1/persons", headers=self.admin,
                             json=person_body(psn_no, region, categories, insutype, **extra))
        assert r.status_code == 201, r.text
        return psn_no

    def get_person(self, psn_no: str) -> dict[str, Any]:
        return self.client.get(f"/api/v1/persons/{psn_no}", headers=self.admin).json()

    def settle(self, psn_no: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        care = {k: kwargs.pop(k) for k in ("care_region", "visit", "discharge_time", "disease",
                                            "dual_channel_drug") if k in kwargs}
        body = claim_body(kwargs.pop("setl_id", uid("S")), psn_no, **kwargs) | care
        return self.client.post("/api/v1/settlements", json=body,
                                headers=headers or self.hospital)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(path, json=body, headers=headers or self.admin)

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=headers or self.admin)

    def audit_actions(self, entity_id: str) -> list[str]:
        with UnitOfWork(self.db) as uow:
            return [e.action for e in uow.audit.entries() if e.entity_id == entity_id]


def fen(reply: dict[str, Any], name: str) -> int:
    return parse_fen(reply[name])


__all__ = ["CHANGCHUN", "HAINAN", "TAIYUAN", "YANJI", "Casework", "fen", "uid"]

"""Who may do what: every role × every service endpoint × own or other region / person.

"own" is a person insured in Shanxi (140100 太原市) — the region of the scoped agency and
hospital tokens and the citizen's own psn_no; "other" is a person insured in Jilin
(220102). No token, an unknown token or a revoked one: 401. Outside role or scope: 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from service_helpers import claim_body, person_body, token, uid

from minsheng.service.auth import hash_secret, revoke_token
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork

# The expected matrix, as CONTRACT.md describes the roles: ✓ allowed, · forbidden (403).
# Columns: own target, other target.
MATRIX = """
endpoint            admin   agency  hospital  hospital_all  analyst  citizen
create_person       ✓✓      ✓·      ··        ··            ··       ··
read_person         ✓✓      ✓·      ✓·        ✓✓            ··       ✓·
change_person       ✓✓      ✓·      ··        ··            ··       ··
accumulators        ✓✓      ✓·      ✓·        ✓✓            ··       ✓·
list_settlements    ✓✓      ✓·      ✓·        ✓✓            ··       ✓·
settle              ✓✓      ✓·      ✓·        ✓✓            ··       ··
read_settlement     ✓✓      ✓·      ✓·        ✓✓            ··       ✓·
statement           ✓✓      ✓·      ✓·        ✓✓            ··       ✓·
reverse             ✓✓      ✓·      ✓·        ✓✓            ··       ··
audit               ✓✓      ··      ··        ··            ··       ··
audit_verify        ✓✓      ··      ··        ··            ··       ··
"""


def expected() -> dict[tuple[str, str, str], bool]:
    lines = [line.split() for line in MATRIX.strip().splitlines()]
    roles = lines[0][1:]
    table = {}
    for row in lines[1:]:
        for role, cell in zip(roles, row[1:], strict=True):
            table[(row[0], role, "own")] = cell[0] == "✓"
            table[(row[0], role, "other")] = cell[1] == "✓"
    return table


@dataclass
class World:
    client: TestClient
    admin: dict[str, str]
    people: dict[str, str]  # own / other → psn_no
    region: dict[str, str]

    def person(self, target: str) -> str:
        """A new person in the target's region (for changes)."""
        psn_no = uid("P")
        r = self.client.post("/api/v1/persons", json=person_body(psn_no, self.region[target]),
                             headers=self.admin)
        assert r.status_code == 201
        return psn_no

    def settlement(self, target: str) -> str:
        setl_id = uid("S")
        r = self.client.post("/api/v1/settlements",
                             json=claim_body(setl_id, self.people[target]), headers=self.admin)
        assert r.status_code == 200, r.text
        return setl_id


Request = Callable[[World, str, dict[str, str]], httpx2.Response]

ENDPOINTS: dict[str, Request] = {
    "create_person": lambda w, t, h: w.client.post(
        "/api/v1/persons", json=person_body(uid("P"), w.region[t]), headers=h),
    "read_person": lambda w, t, h: w.client.get(f"/api/v1/persons/{w.people[t]}", headers=h),
    "change_person": lambda w, t, h: (lambda p: w.client.put(
        f"/api/v1/persons/{p}", json=person_body(p, w.region[t], ["orphan"]), headers=h))(
        w.person(t)),
    "accumulators": lambda w, t, h: w.client.get(
        f"/api/v1/persons/{w.people[t]}/accumulators", params={"year": 2023}, headers=h),
    "list_settlements": lambda w, t, h: w.client.get(
        f"/api/v1/persons/{w.people[t]}/settlements", headers=h),
    "settle": lambda w, t, h: w.client.post(
        "/api/v1/settlements", json=claim_body(uid("S"), w.people[t]), headers=h),
    "read_settlement": lambda w, t, h: w.client.get(
        f"/api/v1/settlements/{w.settlement(t)}", headers=h),
    "statement": lambda w, t, h: w.client.get(
        f"/api/v1/settlements/{w.settlement(t)}/statement", headers=h),
    "reverse": lambda w, t, h: w.client.post(
        f"/api/v1/settlements/{w.settlement(t)}/reversal", json={"reason": "权限测试"},
        headers=h),
    "audit": lambda w, t, h: w.client.get("/api/v1/audit", headers=h),
    "audit_verify": lambda w, t, h: w.client.get("/api/v1/audit/verify", headers=h),
}


@pytest.fixture(scope="module")
def world(client: TestClient, database: Database) -> tuple[World, dict[str, dict[str, str]]]:
    admin = token(database, "admin")
    region = {"own": "140100", "other": "220102"}
    people = {}
    for target, code in region.items():
        psn_no = uid("P")
        assert client.post("/api/v1/persons", json=person_body(psn_no, code),
                           headers=admin).status_code == 201
        people[target] = psn_no
    tokens = {
        "admin": admin,
        "agency": token(database, "agency", "140000"),
        "hospital": token(database, "hospital", "140100"),
        "hospital_all": token(database, "hospital"),
        "analyst": token(database, "analyst"),
        "citizen": token(database, "citizen", psn_no=people["own"]),
    }
    return World(client, admin, people, region), tokens


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_each_role_reaches_exactly_what_the_contract_allows(
        world: tuple[World, dict[str, dict[str, str]]], endpoint: str) -> None:
    w, tokens = world
    table = expected()
    wrong = []
    for role, headers in tokens.items():
        for target in ("own", "other"):
            r = ENDPOINTS[endpoint](w, target, headers)
            allowed = table[(endpoint, role, target)]
            ok = r.is_success if allowed else r.status_code == 403
            if not ok:
                wrong.append(f"{role}/{target}: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_without_a_valid_token_every_endpoint_answers_401(
        world: tuple[World, dict[str, dict[str, str]]], database: Database,
        endpoint: str) -> None:
    w, _ = world
    revoked = token(database, "admin")
    with UnitOfWork(database, write=True) as uow:
        stored = uow.tokens.by_hash(hash_secret(revoked["Authorization"].removeprefix("Bearer ")))
        assert stored is not None
        revoke_token(uow, stored.id)
        uow.commit()
    for headers in ({}, {"Authorization": "Bearer msk_nonsense"},
                    {"Authorization": "Basic YWRtaW46YWRtaW4="}, revoked):
        r = ENDPOINTS[endpoint](w, "own", headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "unauthorized"


def test_only_admin_and_agency_see_resident_ids_whole(
        world: tuple[World, dict[str, dict[str, str]]]) -> None:
    w, tokens = world
    seen: dict[str, Any] = {}
    for role in ("admin", "agency", "hospital", "citizen"):
        seen[role] = w.client.get(f"/api/v1/persons/{w.people['own']}",
                                  headers=tokens[role]).json()["certno"]
    assert seen["admin"] == seen["agency"] and "*" not in seen["admin"]
    for role in ("hospital", "citizen"):
        assert seen[role] == seen["admin"][:4] + "*" * 10 + seen["admin"][-4:]


def test_calculations_stay_open_without_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/calculations").status_code == 200

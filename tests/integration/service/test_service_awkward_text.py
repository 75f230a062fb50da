"""Text a database cannot hold (a NUL character, a key longer than its column) is refused as
bad input naming the field — never a server error, and never the failure of the other
claims settled in the same batch. Found by fuzzing the API (tests/integration/test_schemathesis.py
runs the same kind of requests); PostgreSQL refuses NUL characters in text outright.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from service_helpers import Roles, claim_body, person_body, register, reply, settle_together, uid

from minsheng.core.errors import InputError
from minsheng.service.db import Database

AWKWARD = {"nul": "A\x00B", "too_long": "Z" * 65, "control": "A\x1fB"}


@pytest.mark.parametrize("kind", list(AWKWARD))
def test_a_setl_id_the_database_cannot_hold_is_refused_naming_it(
        client: TestClient, roles: Roles, kind: str) -> None:
    psn_no = register(client, roles)
    r = client.post("/api/v1/settlements", json=claim_body(AWKWARD[kind], psn_no),
                    headers=roles.hospital)
    assert r.status_code == 422 and r.json()["field"] == "setl_id"
    setl_id = quote(AWKWARD[kind], safe="")
    for path in (f"/api/v1/settlements/{setl_id}", f"/api/v1/settlements/{setl_id}/statement"):
        r = client.get(path, headers=roles.admin)
        assert r.status_code == 422 and r.json()["field"] == "setl_id", path
    r = client.post(f"/api/v1/settlements/{setl_id}/reversal", json={"reason": "测试"},
                    headers=roles.admin)
    assert r.status_code == 422 and r.json()["field"] == "setl_id"


def test_a_psn_no_no_person_can_have_is_refused_naming_it(client: TestClient,
                                                         roles: Roles) -> None:
    for psn_no in ("P\x00X", "P" * 40, "P X"):
        r = client.post("/api/v1/settlements", json=claim_body(uid("S"), psn_no),
                        headers=roles.hospital)
        assert r.status_code == 422 and r.json()["field"] == "psn_no", psn_no
    assert client.get("/api/v1/persons/P%00X", headers=roles.admin).status_code == 404


def test_a_claim_the_database_cannot_hold_does_not_fail_its_batch(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles)
    good = claim_body(uid("S"), psn_no)
    bad, settled = settle_together(database, [claim_body("A\x00B", psn_no), good])
    assert isinstance(bad, InputError) and bad.field == "setl_id"
    assert reply(settled)["setl_id"] == good["setl_id"]


def test_control_characters_in_a_name_or_a_reason_are_refused_naming_the_field(
        client: TestClient, roles: Roles) -> None:
    r = client.post("/api/v1/persons", json=person_body(uid("P"), psn_name="张\x00三"),
                    headers=roles.admin)
    assert r.status_code == 422 and r.json()["field"] == "psn_name"
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no)
    assert client.post("/api/v1/settlements", json=claim, headers=roles.hospital).is_success
    r = client.post(f"/api/v1/settlements/{claim['setl_id']}/reversal",
                    json={"reason": "重复\x00结算"}, headers=roles.admin)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(f"/api/v1/settlements/{claim['setl_id']}/reversal",
                    json={"reason": "重复结算\n（第二行）"}, headers=roles.admin)
    assert r.status_code == 200


@pytest.mark.parametrize("kind", ["filings", "transfers", "recognitions", "assistance"])
def test_a_casework_id_the_database_cannot_hold_is_not_found(client: TestClient, roles: Roles,
                                                             kind: str) -> None:
    r = client.get(f"/api/v1/casework/{kind}/A%00B", headers=roles.admin)
    assert r.status_code == 404, r.text

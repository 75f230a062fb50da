"""Roles and scopes of the service tokens (pure: no database)."""

from __future__ import annotations

import pytest

from minsheng.core.errors import InputError
from minsheng.service.auth import (
    PERSON_READ,
    PERSON_WRITE,
    SETTLE,
    Forbidden,
    Principal,
    Unauthorized,
    bearer_secret,
    check_scope,
    hash_secret,
)


def test_an_agency_covers_its_region_and_the_regions_below_it() -> None:
    changchun = Principal("t", "agency", region="220100")
    assert changchun.covers("220100", "P1") and changchun.covers("220112", "P1")
    assert not changchun.covers("220000", "P1") and not changchun.covers("222401", "P1")
    assert not changchun.covers("140100", "P1")


def test_a_hospital_without_a_region_settles_for_anyone_but_never_registers_persons() -> None:
    hospital = Principal("t", "hospital")
    hospital.require_person(SETTLE, "140100", "P1")
    with pytest.raises(Forbidden) as err:
        hospital.require_person(PERSON_WRITE, "140100", "P1")
    assert err.value.status == 403 and "hospital" in err.value.message


def test_a_citizen_reads_only_its_own_record() -> None:
    citizen = Principal("t", "citizen", psn_no="P1")
    citizen.require_person(PERSON_READ, "220102", "P1")
    with pytest.raises(Forbidden, match="本人"):
        citizen.require_person(PERSON_READ, "220102", "P2")
    with pytest.raises(Forbidden):
        citizen.require(SETTLE)


def test_an_analyst_sees_no_personal_data() -> None:
    analyst = Principal("t", "analyst")
    for action in (PERSON_READ, SETTLE):
        with pytest.raises(Forbidden):
            analyst.require(action)


def test_only_admin_and_agency_see_resident_ids_whole() -> None:
    seen = {role: Principal("t", role, region="220000" if role == "agency" else None).sees_certno
            for role in ("admin", "agency", "hospital", "analyst", "citizen")}
    assert seen == {"admin": True, "agency": True, "hospital": False, "analyst": False,
                    "citizen": False}


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "token"])
def test_a_missing_or_malformed_authorization_header_is_401(header: str | None) -> None:
    with pytest.raises(Unauthorized) as err:
        bearer_secret(header)
    assert err.value.status == 401


def test_the_bearer_secret_is_read_whatever_the_case_of_the_scheme() -> None:
    assert bearer_secret("bearer msk_abc") == "msk_abc"


def test_a_stored_token_is_the_sha256_of_its_secret() -> None:
    import hashlib

    assert hash_secret("msk_x") == hashlib.sha256(b"msk_x").hexdigest()
    assert hash_secret("msk_x") != hash_secret("msk_y")


@pytest.mark.parametrize(("role", "region", "psn_no", "field"), [
    ("mayor", None, None, "role"),
    ("agency", None, None, "region"),
    ("citizen", None, None, "psn_no"),
    ("citizen", "220000", "P1", "region"),
    ("hospital", None, "P1", "psn_no"),
    ("hospital", "12345", None, "region"),
])
def test_a_token_scope_that_does_not_fit_its_role_is_refused(
        role: str, region: str | None, psn_no: str | None, field: str) -> None:
    with pytest.raises(InputError) as err:
        check_scope(role, region, psn_no)
    assert err.value.field == field


def test_a_region_given_by_its_chinese_name_is_stored_as_its_code() -> None:
    assert check_scope("hospital", "长春市", None) == ("220100", None)

"""The schema comes from the migrations and matches the models; ``minsheng token`` and
``minsheng audit verify`` work on the service's database; the demo data load idempotently."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from service_helpers import client_for
from sqlalchemy import text
from typer.testing import CliRunner

from minsheng.cli import app as cli
from minsheng.core.categories import CATEGORIES
from minsheng.core.resident_id import validate_certno
from minsheng.service.auth import hash_secret
from minsheng.service.db import Database, forget_databases
from minsheng.service.demo import demo_claims, demo_persons, load_demo
from minsheng.service.models import Base
from minsheng.service.unit_of_work import UnitOfWork


def test_the_migrated_schema_matches_the_models(fresh_database: Database) -> None:
    with fresh_database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_again_changes_nothing(fresh_database: Database) -> None:
    fresh_database.migrate()
    with UnitOfWork(fresh_database) as uow:
        assert uow.audit.head().seq == 0


@pytest.fixture
def cli_env(fresh_database: Database) -> dict[str, str]:
    yield {"MINSHENG_DATABASE_URL": fresh_database.url}
    forget_databases()


def test_token_create_prints_a_token_the_service_accepts(fresh_database: Database,
                                                         cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["token", "create", "--role", "agency", "--region",
                                      "220000", "--label", "长春市医保局"], env=cli_env)
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    assert secret.startswith("msk_")
    with client_for(fresh_database) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/persons/NOBODY", headers=headers).status_code == 404
        assert client.get("/api/v1/audit", headers=headers).status_code == 403
    with UnitOfWork(fresh_database) as uow:
        stored = [(t.role, t.region, t.secret_hash) for t in uow.tokens.list()]
    assert stored == [("agency", "220000", hash_secret(secret))]  # the secret is not stored


@pytest.mark.parametrize(("args", "field"), [
    (["--role", "citizen"], "psn_no"),
    (["--role", "agency"], "region"),
    (["--role", "mayor"], "role"),
    (["--role", "hospital", "--region", "999999"], "region"),
    (["--role", "admin", "--psn-no", "P1"], "psn_no"),
])
def test_a_token_outside_the_roles_rules_is_refused_naming_the_option(
        cli_env: dict[str, str], args: list[str], field: str) -> None:
    result = CliRunner().invoke(cli, ["token", "create", *args], env=cli_env)
    assert result.exit_code == 2
    assert field in result.output


def some_history(db: Database) -> None:
    """A few tokens, two persons and two settlements: a dozen audit entries."""
    from minsheng.service import persons, settlements
    from minsheng.service.auth import SYSTEM, create_token
    from minsheng.service.unit_of_work import factory

    with UnitOfWork(db, write=True) as uow:
        for role in ("admin", "analyst", "hospital", "admin", "analyst", "hospital"):
            create_token(uow, role)
        uow.commit()
    for body in demo_persons()[:2]:
        persons.create_person(factory(db)(write=True), SYSTEM, body)
        settlements.settle(factory(db), SYSTEM, demo_claims(body["psn_no"])[2])


def test_audit_verify_says_ok_for_an_untouched_trail(fresh_database: Database,
                                                     cli_env: dict[str, str]) -> None:
    some_history(fresh_database)
    result = CliRunner().invoke(cli, ["audit", "verify"], env=cli_env)
    assert result.exit_code == 0 and result.stdout.startswith("OK")


@pytest.mark.parametrize(("tamper", "problem"), [
    ("UPDATE audit_entry SET payload = replace(payload, 'DEMO-JL-01', 'DEMO-JL-09') "
     "WHERE action = 'settlement.created' AND entity_id LIKE 'DEMO-JL-01-%'", "edited"),
    ("DELETE FROM audit_entry WHERE seq = 5", "deleted"),
    ("UPDATE audit_entry SET seq = CASE seq WHEN 6 THEN 7 ELSE 6 END WHERE seq IN (6, 7)",
     "reordered"),
])
def test_audit_verify_finds_the_first_edited_deleted_or_reordered_entry(
        fresh_database: Database, cli_env: dict[str, str], tamper: str, problem: str) -> None:
    some_history(fresh_database)
    with fresh_database.engine.begin() as conn:
        if "CASE" in tamper:  # swap through a free number (the primary key stays unique)
            conn.execute(text("UPDATE audit_entry SET seq = -6 WHERE seq = 6"))
            conn.execute(text("UPDATE audit_entry SET seq = 6 WHERE seq = 7"))
            conn.execute(text("UPDATE audit_entry SET seq = 7 WHERE seq = -6"))
        else:
            assert conn.execute(text(tamper)).rowcount == 1
    result = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=cli_env)
    assert result.exit_code == 1
    assert f'"problem": "{problem}"' in result.stdout
    plain = CliRunner().invoke(cli, ["audit", "verify"], env=cli_env)
    assert plain.exit_code == 1 and re.search(r"第 \d+ 条", plain.output)


def test_the_demo_loads_once_and_renews_only_its_tokens(fresh_database: Database) -> None:
    first = load_demo(fresh_database)
    second = load_demo(fresh_database)
    assert first.persons_created == len(demo_persons()) and first.settlements_created > 0
    assert first.problems == []
    assert (second.persons_created, second.settlements_created) == (0, 0)
    assert set(first.tokens) == {"admin", "agency", "hospital", "analyst", "citizen"}
    with client_for(fresh_database) as client:
        old = {"Authorization": f"Bearer {first.tokens['admin']}"}
        new = {"Authorization": f"Bearer {second.tokens['admin']}"}
        assert client.get("/api/v1/persons/DEMO-JL-01", headers=old).status_code == 401
        assert client.get("/api/v1/persons/DEMO-JL-01", headers=new).status_code == 200


def test_the_demo_has_every_category_in_jilin_and_shanxi_with_valid_resident_ids() -> None:
    people = demo_persons()
    for province in ("22", "14"):
        held = {c for p in people if p["region"].startswith(province) for c in p["categories"]}
        assert held == set(CATEGORIES)
    for p in people:
        assert validate_certno(p["certno"]) == p["certno"]

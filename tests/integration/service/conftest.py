"""Integration fixtures: the service on a real SQLite file and on PostgreSQL.

See :mod:`service_helpers` for how the databases are made (PostgreSQL: a fresh schema per
test session, skipped when unreachable unless ``CI=true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_helpers import BACKENDS, Roles, client_for, new_database_url, token

from minsheng.service.db import Database


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url, remove = new_database_url(backend, tmp_path_factory.mktemp(backend))
    db = Database(url)
    db.migrate()
    yield db
    db.dispose()
    remove()


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    url, remove = new_database_url(backend, tmp_path)
    db = Database(url, pool_size=5)
    db.migrate()
    yield db
    db.dispose()
    remove()


@pytest.fixture(scope="session")
def client(database: Database) -> Iterator[TestClient]:
    with client_for(database) as c:
        yield c


@pytest.fixture(scope="session")
def roles(database: Database) -> Roles:
    return Roles(admin=token(database, "admin"),
                 agency_jilin=token(database, "agency", "220000"),
                 agency_shanxi=token(database, "agency", "140000"),
                 hospital=token(database, "hospital"),
                 hospital_shanxi=token(database, "hospital", "140000"),
                 analyst=token(database, "analyst"))



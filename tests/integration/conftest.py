"""Fixtures shared by the service and casework integration tests: one database per backend
(a real SQLite file, and PostgreSQL in a fresh schema) and a client of the app on it.

See ``service/service_helpers.py`` for how the databases are made (PostgreSQL is skipped when
unreachable, unless ``CI=true``). Tests make their own persons and claims (unique numbers),
so the service and casework tests share these databases.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent / "service"))

from service_helpers import BACKENDS, client_for, new_database_url

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


@pytest.fixture(scope="session")
def client(database: Database) -> Iterator[TestClient]:
    with client_for(database) as c:
        yield c

"""Casework integration fixtures: the service on a real SQLite file and on PostgreSQL.

The databases, tokens, persons and claims are made as in ``tests/integration/service`` (its
``service_helpers`` module is reused); casework adds staff tokens with a level.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))

from casework_helpers import Casework
from fastapi.testclient import TestClient
from service_helpers import BACKENDS, client_for, new_database_url

from minsheng.service.db import Database


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url, remove = new_database_url(backend, tmp_path_factory.mktemp(f"casework-{backend}"))
    db = Database(url)
    db.migrate()
    yield db
    db.dispose()
    remove()


@pytest.fixture(scope="session")
def client(database: Database) -> Iterator[TestClient]:
    with client_for(database) as c:
        yield c


@pytest.fixture(scope="session")
def cw(client: TestClient, database: Database) -> Casework:
    return Casework(client, database)

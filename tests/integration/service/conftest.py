"""Service fixtures: a fresh database per test where one is needed, and tokens of every role
(the shared database and client: ``tests/integration/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import Roles, new_database_url, token

from minsheng.service.db import Database


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    url, remove = new_database_url(backend, tmp_path)
    db = Database(url, pool_size=5)
    db.migrate()
    yield db
    db.dispose()
    remove()


@pytest.fixture
def server_database(backend: str, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """A fresh database for a server subprocess (``server_process.serving``): its URL, and a
    connection of the test's own to fill and read it."""
    url, remove = new_database_url(backend, tmp_path)
    db = Database(url, pool_size=2)
    db.migrate()
    yield url, db
    db.dispose()
    remove()


@pytest.fixture(scope="session")
def roles(database: Database) -> Roles:
    return Roles(admin=token(database, "admin"),
                 agency_jilin=token(database, "agency", "220000"),
                 agency_shanxi=token(database, "agency", "140000"),
                 hospital=token(database, "hospital"),
                 hospital_shanxi=token(database, "hospital", "140000"),
                 analyst=token(database, "analyst"))



"""Casework fixtures: the casework driver on the shared database and client
(``tests/integration/conftest.py``, one per backend); casework adds staff tokens with a level."""

from __future__ import annotations

import pytest
from casework_helpers import Casework
from fastapi.testclient import TestClient

from minsheng.service.db import Database


@pytest.fixture(scope="session")
def cw(client: TestClient, database: Database) -> Casework:
    return Casework(client, database)

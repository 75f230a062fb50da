"""Schemathesis over the OpenAPI schema (``/openapi.json``): no request gets a server error.

The app runs in process (ASGI) on a fresh database — SQLite, and PostgreSQL too (skipped when
unreachable unless ``CI=true``) — and every request carries an admin token, so authenticated
routes are exercised past their 401. Requests follow the schema and break it (positive and
negative generation). A person and a settlement exist under the ids of the schema's
examples, so generated requests also reach stored data. Bad input must be a 4xx naming what
is wrong, never a 5xx. (What fuzzing found is pinned by
``tests/integration/service/test_service_awkward_text.py``.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.hooks import HookContext

sys.path.insert(0, str(Path(__file__).parent / "service"))

from service_helpers import BACKENDS, claim_body, new_database_url, person_body, token

from minsheng.api.app import create_app
from minsheng.api.deps import STATE_KEY
from minsheng.api.routes.settlements import CLAIM_EXAMPLE
from minsheng.service.db import Database

pytestmark = pytest.mark.slow

APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=["positive", "negative"])  # also data the schema forbids

EXAMPLES = int(os.environ.get("MINSHENG_SCHEMATHESIS_EXAMPLES", "6"))
"""Examples per operation and backend: by default the module runs in well under a minute;
set ``MINSHENG_SCHEMATHESIS_EXAMPLES`` for a deeper run."""
SETTLE_EXAMPLES = 10 * EXAMPLES

SETTLE = ("POST", "/api/v1/settlements")
VALID_CLAIM = {k: v for k, v in CLAIM_EXAMPLE.items() if k != "setl_id"}
NASTY = st.one_of(st.sampled_from(["A\x00B", "Z" * 65, " ", "\u2028", "P220102001\n",
                                   "'; DROP TABLE settlement; --"]), st.text(max_size=80))


@schema.hook
def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Most generated claims are made valid but for what was generated for their ``setl_id``
    and casework fields — or for an awkward ``setl_id`` or ``psn_no`` — so that these reach
    the settlement writer's batch and the database (a random date or amount would stop almost
    every claim at parsing)."""
    operation = context.operation
    if (operation is None or (operation.method.upper(), operation.path) != SETTLE
            or not isinstance(body, dict)):
        return st.just(body)
    plain = {**VALID_CLAIM, "setl_id": CLAIM_EXAMPLE["setl_id"]}
    return st.one_of(st.just(body), st.just({**body, **VALID_CLAIM}),
                     NASTY.map(lambda text: {**plain, "setl_id": text}),
                     NASTY.map(lambda text: {**plain, "psn_no": text}))


@pytest.fixture(scope="module", params=BACKENDS)
def admin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[dict[str, str]]:
    url, remove = new_database_url(str(request.param), tmp_path_factory.mktemp("schemathesis"))
    db = Database(url, pool_size=5)
    db.migrate()
    setattr(APP.state, STATE_KEY, db)
    headers = token(db, "admin")
    from fastapi.testclient import TestClient

    with TestClient(APP) as client:
        psn_no = CLAIM_EXAMPLE["psn_no"]
        assert client.post("/api/v1/persons", json=person_body(psn_no, "220102", [
            "minimum_allowance"]), headers=headers).status_code == 201
        settled = client.post("/api/v1/settlements", json=claim_body(
            str(CLAIM_EXAMPLE["setl_id"]), str(psn_no)), headers=headers)
        assert settled.status_code == 200, settled.text
    yield headers
    setattr(APP.state, STATE_KEY, None)
    db.dispose()
    remove()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), print_blob=True)
def test_no_request_gets_a_server_error(
        case: schemathesis.Case, admin: dict[str, str]) -> None:
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
    response = case.call(headers=admin)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}\n"
        f"{response.text[:500]}\n{case.as_curl_command()}")


@schema.include(method="POST", path="/api/v1/settlements").parametrize()
@settings(max_examples=SETTLE_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), print_blob=True)
def test_no_claim_gets_a_server_error(case: schemathesis.Case, admin: dict[str, str]) -> None:
    """The hot endpoint, with more examples (see :func:`flatmap_body`)."""
    test_no_request_gets_a_server_error(case, admin)

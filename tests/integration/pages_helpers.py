"""Helpers of the page tests behind a login: a database with persons and tokens, a logged-in
client that posts forms with their CSRF token, and the text of a page as a person reads it."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from minsheng.api.app import create_app
from minsheng.api.deps import STATE_KEY
from minsheng.core.resident_id import make_certno
from minsheng.service import persons, settlements
from minsheng.service.auth import SYSTEM, Principal, create_token
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork, factory
from minsheng.web.session import COOKIE, CSRF_FIELD

_CSRF = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')


@contextmanager
def sqlite_database(folder: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{folder / 'pages.db'}", pool_size=5)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


def token(db: Database, role: str, region: str | None = None, psn_no: str | None = None
          ) -> tuple[str, str]:
    """A new token: ``(token id, secret)``."""
    with UnitOfWork(db, write=True) as uow:
        row, secret = create_token(uow, role, region=region, psn_no=psn_no, label="page test")
        uow.commit()
    return row.id, secret


def person(db: Database, psn_no: str, region: str = "220102", categories: list[Any] | None = None,
           born: dt.date = dt.date(1960, 5, 6), insutype: str = "390",
           name: str = "王秀英") -> dict[str, Any]:
    return persons.create_person(factory(db)(write=True), SYSTEM, {
        "psn_no": psn_no, "insutype": insutype, "region": region, "psn_name": name,
        "certno": make_certno(region, born, 123), "categories": categories or []})


def claim(psn_no: str, setl_id: str, when: str, total: str = "20000.00", med_type: str = "21",
          first_share: str = "0.00") -> dict[str, Any]:
    return {"setl_id": setl_id, "psn_no": psn_no, "setl_time": when, "med_type": med_type,
            "hosp_lv": 3, "in_province": True, "medfee_sumamt": total,
            "fulamt_ownpay_amt": "0.00", "preselfpay_amt": first_share, "overlmt_selfpay": "0.00"}


def settle(db: Database, body: Mapping[str, Any], who: Principal = SYSTEM) -> dict[str, Any]:
    reply = settlements.settle(factory(db), who, dict(body))
    result: dict[str, Any] = json.loads(reply.body)
    return result


def client(db: Database, runs: Path | None = None) -> TestClient:
    app = create_app()
    setattr(app.state, STATE_KEY, db)
    if runs is not None:
        app.state.minsheng_runs_dir = runs
    return TestClient(app)


def session_payload(c: TestClient) -> dict[str, Any]:
    """What the session cookie holds (its payload is signed, not secret)."""
    value = c.cookies.get(COOKIE) or ""
    payload = value.partition(".")[0]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def csrf_of(c: TestClient) -> str:
    return str(session_payload(c)["c"])


def login(c: TestClient, secret: str, next_: str = "") -> Any:
    """Log in through the form, as a browser does (the form's CSRF token included)."""
    form = c.get("/login")
    found = _CSRF.search(form.text)
    assert found, "the login form carries a CSRF token"
    return c.post("/login", data={CSRF_FIELD: found.group(1), "token": secret, "next": next_},
                  follow_redirects=False)


def post(c: TestClient, path: str, data: Mapping[str, str], **kwargs: Any) -> Any:
    """Post a form of a page with the session's CSRF token."""
    return c.post(path, data={CSRF_FIELD: csrf_of(c), **data}, follow_redirects=False, **kwargs)


def text(page: str) -> str:
    """The visible text of the page's main part, whitespace collapsed."""
    start = page.find("<main")
    end = page.find("</main>")
    body = page[start:end] if start >= 0 and end > start else page
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def attr_values(page: str, attribute: str) -> dict[str, str]:
    """``data-…="key"`` → the text of that element (``data-output``, ``data-total`` …)."""
    found: dict[str, str] = {}
    for m in re.finditer(rf'{attribute}="([^"]+)"[^>]*>([^<]*)<', page):
        found.setdefault(m.group(1), html.unescape(m.group(2)).strip())
    return found


@dataclass(frozen=True)
class Row:
    """One row of a table: its attributes and the text of its cells."""

    attrs: str
    cells: list[str]


def rows(page: str, marker: str) -> list[Row]:
    """The ``<tr>`` whose opening tag contains ``marker`` (e.g. ``data-setl-id``)."""
    out = []
    for m in re.finditer(r"<tr([^>]*)>(.*?)</tr>", page, flags=re.S):
        if marker in m.group(1):
            cells = [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(2), flags=re.S)]
            out.append(Row(m.group(1), cells))
    return out

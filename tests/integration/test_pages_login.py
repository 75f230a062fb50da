"""Logging in to the pages with an access token: the session cookie, CSRF, logout, refusals.

Issue 8 item 3: a pasted token becomes a signed, HttpOnly, SameSite=Lax session cookie; the
page checks the token's role and scope as the API does; every POST form carries a CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pages_helpers import client, csrf_of, login, person, post, session_payload, sqlite_database, text, token

from minsheng.api.app import create_app
from minsheng.service.auth import revoke_token
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.web.session import COOKIE, MAX_AGE, SECRET_ENV, decode, encode, new_session

AREAS = ("/me", "/agency", "/analyst", "/agency/persons", "/analyst/simulations/x")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with sqlite_database(tmp_path_factory.mktemp("login")) as database:
        person(database, "LOGIN-01")
        yield database


@pytest.fixture
def c(db: Database) -> TestClient:
    return client(db)


@pytest.mark.parametrize("path", AREAS)
def test_a_page_behind_the_login_sends_a_visitor_without_a_session_to_the_login_form(
        c: TestClient, path: str) -> None:
    r = c.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next={path}"


def test_the_login_form_asks_for_the_token_in_chinese_with_a_label_and_a_csrf_token(c: TestClient) -> None:
    r = c.get("/login")
    assert r.status_code == 200
    assert '<html lang="zh-CN">' in r.text
    assert '<label for="token">访问令牌' in r.text
    assert 'type="password" id="token" name="token"' in r.text
    assert f'name="csrf_token" value="{csrf_of(c)}"' in r.text


def test_a_citizen_logs_in_with_its_token_and_lands_on_its_own_page(db: Database, c: TestClient) -> None:
    token_id, secret = token(db, "citizen", psn_no="LOGIN-01")
    r = login(c, secret)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert secret not in cookie, "the cookie holds the token's id, never its secret"
    assert session_payload(c)["t"] == token_id and session_payload(c)["r"] == "citizen"
    assert "LOGIN-01" in text(c.get("/me").text)


def test_the_session_gets_a_new_csrf_token_at_login(db: Database, c: TestClient) -> None:
    _, secret = token(db, "analyst")
    c.get("/login")
    before = csrf_of(c)
    login(c, secret)
    assert csrf_of(c) != before


def test_a_wrong_token_is_refused_with_401_and_says_why_in_chinese(c: TestClient) -> None:
    r = login(c, "msk_not_a_token")
    assert r.status_code == 401
    assert "访问令牌无效或已撤销" in text(r.text)
    assert c.get("/me", follow_redirects=False).status_code == 303


def test_an_empty_token_is_refused_with_422(c: TestClient) -> None:
    r = login(c, "")
    assert r.status_code == 422
    assert "请粘贴访问令牌" in text(r.text)


def test_a_login_post_without_the_csrf_token_of_the_session_is_refused(db: Database, c: TestClient) -> None:
    _, secret = token(db, "analyst")
    c.get("/login")
    r = c.post("/login", data={"token": secret}, follow_redirects=False)
    assert r.status_code == 403
    assert "防跨站请求伪造" in text(r.text)
    r = c.post("/login", data={"token": secret, "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert c.get("/analyst", follow_redirects=False).status_code == 303


def test_a_hospital_token_has_no_pages_and_is_told_so(db: Database, c: TestClient) -> None:
    _, secret = token(db, "hospital")
    r = login(c, secret)
    assert r.status_code == 403
    assert "结算接口" in text(r.text)


def test_an_altered_session_cookie_counts_as_no_session(db: Database, c: TestClient) -> None:
    _, secret = token(db, "analyst")
    login(c, secret)
    value = c.cookies[COOKIE]
    payload, _, mac = value.partition(".")
    forged = encode(b"another key" * 4, new_session("tok_x", "admin"))
    for bad in (payload + "x." + mac, forged, "garbage"):
        c.cookies.clear()  # the altered cookie replaces the server's, not stands beside it
        c.cookies.set(COOKIE, bad)
        assert c.get("/analyst", follow_redirects=False).status_code == 303


def test_a_session_expires_after_a_working_day() -> None:
    key = b"k" * 32
    s = new_session("tok_1", "agency")
    value = encode(key, s)
    assert decode(key, value, now=s.issued + MAX_AGE - 1) == s
    assert decode(key, value, now=s.issued + MAX_AGE + 1) is None


def test_a_revoked_token_ends_the_session_on_the_next_request(db: Database, c: TestClient) -> None:
    token_id, secret = token(db, "citizen", psn_no="LOGIN-01")
    login(c, secret)
    assert c.get("/me").status_code == 200
    with UnitOfWork(db, write=True) as uow:
        revoke_token(uow, token_id)
        uow.commit()
    r = c.get("/me", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/me&expired=1"
    assert "登录已失效" in text(c.get(r.headers["location"]).text)


def test_logout_ends_the_session_and_needs_the_csrf_token(db: Database, c: TestClient) -> None:
    _, secret = token(db, "analyst")
    login(c, secret)
    assert c.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert c.get("/analyst").status_code == 200
    r = post(c, "/logout", {})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "已安全退出" in text(c.get("/login").text)
    assert c.get("/analyst", follow_redirects=False).status_code == 303


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(db: Database, c: TestClient) -> None:
    _, secret = token(db, "agency", "220000")
    assert login(c, secret, "/agency/persons?q=LOGIN").headers["location"] == "/agency/persons?q=LOGIN"
    for elsewhere in ("//evil.example/agency", "https://evil.example/", "/me", "/\\evil"):
        assert login(c, secret, elsewhere).headers["location"] == "/agency"


def test_the_navigation_shows_the_role_and_a_logout_button_once_logged_in(db: Database, c: TestClient) -> None:
    def nav(page: str) -> str:
        return page[page.index('<nav aria-label="主导航">'):page.index("</nav>")]

    assert ">登录</a>" in nav(c.get("/").text)
    _, secret = token(db, "agency", "220000")
    login(c, secret)
    home = nav(c.get("/").text)
    assert 'action="/logout"' in home and "医保经办机构" in home and 'href="/agency"' in home
    assert 'href="/me"' not in home and ">登录</a>" not in home


def test_every_login_is_written_to_the_audit_trail(db: Database, c: TestClient) -> None:
    token_id, secret = token(db, "analyst")
    login(c, secret)
    with UnitOfWork(db) as uow:
        actors = [e.actor for e in uow.audit.entries() if e.action == "session.login" and e.entity_id == token_id]
    assert actors == [f"analyst:{token_id}"]


def test_a_session_key_from_the_environment_outlives_a_restart(db: Database, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.setenv(SECRET_ENV, "x" * 40)
    _, secret = token(db, "analyst")
    first = client(db)
    login(first, secret)
    second = client(db)  # a restarted server with the same key
    second.cookies.set(COOKIE, first.cookies[COOKIE])
    assert second.get("/analyst").status_code == 200
    monkeypatch.delenv(SECRET_ENV)
    third = client(db)  # without the variable: a random key per start
    third.cookies.set(COOKIE, first.cookies[COOKIE])
    assert third.get("/analyst", follow_redirects=False).status_code == 303


def test_a_session_key_shorter_than_32_characters_is_refused_when_the_app_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(ValueError, match=SECRET_ENV):
        create_app()


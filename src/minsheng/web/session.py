"""Login to the pages: a pasted access token becomes a signed session cookie; logout; CSRF.

- ``GET /login`` shows a form (paste a token made by ``minsheng token create`` or printed by
  ``make run``); ``POST /login`` checks it exactly as the API checks a bearer token
  (:func:`minsheng.service.auth.authenticate`), writes an audit entry and sets the session.
- The session is a cookie ``minsheng_session``: HttpOnly, SameSite=Lax, Secure over HTTPS,
  holding the token's id (never its secret), the role, a CSRF token and the login time,
  signed with HMAC-SHA256. The key is ``MINSHENG_SECRET_KEY`` (at least 32 characters); without
  it a random key is made when the app starts and kept in the app's state, so sessions end
  when the server restarts (set the variable when running several worker processes).
- Every request of a page re-reads the token by its id: a revoked token ends the session at
  once, and the role and region are the token's, as for the API. Sessions last
  :data:`MAX_AGE` seconds from login.
- Every POST form carries the session's CSRF token in the hidden field ``csrf_token``; a
  post without it (or with another session's) is refused with 403.
- :class:`PageRoute` turns what a page's handler raises into pages, never JSON: no session →
  303 to ``/login?next=…``; a refusal (403) → a page in Chinese saying why; unknown (404).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from minsheng.api.deps import database
from minsheng.core.errors import MinshengError, NotFound
from minsheng.service.audit import canonical_json
from minsheng.service.auth import ROLES, Forbidden, Principal, Unauthorized, authenticate
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.web.routes import templates

COOKIE = "minsheng_session"
MAX_AGE = 8 * 3600
"""A session lasts a working day (seconds from login)."""
SECRET_ENV = "MINSHENG_SECRET_KEY"
MIN_SECRET = 32
CSRF_FIELD = "csrf_token"
_STATE_KEY = "minsheng_web_secret"
_CONTEXT = b"minsheng-session-v1."

HOMES = {"citizen": "/me", "agency": "/agency", "admin": "/agency", "analyst": "/analyst"}
"""Where each role lands after login (the hospital role has no pages: it settles via the API)."""
AREAS = {"/me": ("citizen",), "/agency": ("agency", "admin"), "/analyst": ("analyst", "admin")}
AREA_NAMES = {"/me": "参保人自助服务", "/agency": "经办机构工作台", "/analyst": "政策测算"}


class LoginRequired(Exception):
    """No (valid) session: the page redirects to the login form."""


class CsrfFailed(MinshengError):
    status = 403
    kind = "csrf"


@dataclass(frozen=True)
class Session:
    """What the signed cookie holds."""

    csrf: str
    issued: int
    token_id: str | None = None
    role: str | None = None
    flash: tuple[str, str] | None = None  # (kind: ok | error, text) shown once on the next page

    @property
    def logged_in(self) -> bool:
        return self.token_id is not None

    @property
    def role_name(self) -> str:
        return ROLES.get(self.role or "", "")


def new_session(token_id: str | None = None, role: str | None = None,
                flash: tuple[str, str] | None = None) -> Session:
    return Session(secrets.token_urlsafe(24), int(time.time()), token_id, role, flash)


# --- the key and the signed cookie --------------------------------------------------------

def configure_secret(app: FastAPI) -> None:
    """Read ``MINSHENG_SECRET_KEY`` (or make a random key for this app) once, at install."""
    configured = os.environ.get(SECRET_ENV, "")
    if configured and len(configured) < MIN_SECRET:
        raise ValueError(f"{SECRET_ENV} 至少需要 {MIN_SECRET} 个字符 "
                         f"({SECRET_ENV} must have at least {MIN_SECRET} characters)")
    key = configured.encode("utf-8") if configured else secrets.token_bytes(32)
    setattr(app.state, _STATE_KEY, key)


def _key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, _STATE_KEY, None)
    if key is None:  # an app that did not go through install(): make its key now
        configure_secret(request.app)
        key = getattr(request.app.state, _STATE_KEY)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest())


def encode(key: bytes, session: Session) -> str:
    data = {"c": session.csrf, "i": session.issued, "t": session.token_id, "r": session.role,
            "f": list(session.flash) if session.flash else None}
    payload = _b64(json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{payload}.{_mac(key, payload)}"


def decode(key: bytes, value: str, now: float | None = None) -> Session | None:
    """The session of a cookie value, or ``None`` if it is forged, damaged or expired."""
    payload, _, mac = value.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    try:
        data = json.loads(_unb64(payload))
        session = Session(str(data["c"]), int(data["i"]), data.get("t"), data.get("r"),
                          tuple(data["f"]) if data.get("f") else None)
    except (ValueError, KeyError, TypeError):
        return None
    if (now if now is not None else time.time()) - session.issued > MAX_AGE:
        return None
    return session


def read_session(request: Request) -> Session | None:
    """The request's valid session, if any (cached on the request)."""
    if "minsheng_session" in request.scope:
        cached: Session | None = request.scope["minsheng_session"]
        return cached
    raw = request.cookies.get(COOKIE)
    session = decode(_key(request), raw) if raw else None
    request.scope["minsheng_session"] = session
    return session


def write_session(response: Response, request: Request, session: Session) -> None:
    response.set_cookie(COOKIE, encode(_key(request), session), max_age=MAX_AGE, path="/",
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


def nav_session(request: Any) -> Session | None:
    """For the navigation bar of every page: the signed session (no database read)."""
    try:
        return read_session(request) if isinstance(request, Request) else None
    except Exception:  # a page must render even if the cookie cannot be read
        return None


templates.env.globals["nav_session"] = nav_session
templates.env.globals["csrf_field"] = CSRF_FIELD


# --- who is asking --------------------------------------------------------------------------

def principal_of(request: Request, session: Session | None) -> Principal:
    """The token behind a session, read again now (revoked → :class:`Unauthorized`)."""
    if session is None or session.token_id is None:
        raise LoginRequired()
    with UnitOfWork(database(request)) as uow:
        token = uow.tokens.get(session.token_id)
        if token is None or token.revoked_at is not None:
            raise Unauthorized("访问令牌无效或已撤销", "unknown or revoked token")
        return Principal(token.id, token.role, token.region, token.psn_no)


def page_principal(request: Request, area: str) -> Principal:
    """The logged-in principal if its role may use ``area`` (``/me``, ``/agency``, ``/analyst``)."""
    who = principal_of(request, read_session(request))
    allowed = AREAS[area]
    if who.role not in allowed:
        names = "、".join(ROLES[r] for r in allowed)
        raise Forbidden(f"“{AREA_NAMES[area]}”仅供{names}使用；您当前以“{ROLES[who.role]}”身份登录",
                        f"{area} is for {', '.join(allowed)}", role=who.role, action=area)
    return who


async def checked_form(request: Request) -> dict[str, list[str]]:
    """The posted form, after its CSRF token was checked against the session's."""
    posted = await request.form()
    values = {k: [v for v in posted.getlist(k) if isinstance(v, str)] for k in posted}
    session = read_session(request)
    sent = (values.get(CSRF_FIELD) or [""])[0]
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf):
        raise CsrfFailed("表单已过期或来源不明（防跨站请求伪造校验未通过）。请回到上一页，刷新后重新提交；"
                         "如仍不行，请确认浏览器允许本站使用 Cookie。",
                         "CSRF check failed: reload the form and submit again")
    return values


def first(values: Mapping[str, Sequence[str]], name: str) -> str:
    got = values.get(name) or [""]
    return got[0].strip()


# --- rendering ------------------------------------------------------------------------------

def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page with the session's CSRF token and its one-time message; keeps the cookie fresh.

    A visitor without a session gets an anonymous one (it carries the CSRF token of the
    login form)."""
    session = read_session(request)
    fresh = session is None
    if session is None:
        session = new_session()
        request.scope["minsheng_session"] = session
    flash = session.flash
    context.setdefault("nav", "")
    context.setdefault("who", None)
    response = templates.TemplateResponse(
        request, template, {"session": session, "csrf": session.csrf, "flash": flash, **context},
        status_code=status)
    if fresh or flash:
        write_session(response, request, replace(session, flash=None))
    private(response)
    return response


def private(response: Response) -> Response:
    """Pages with personal data: never cached (a shared computer's back button, a proxy) and
    never framed by another site."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def redirect(request: Request, to: str, flash: tuple[str, str] | None = None) -> Response:
    """303 to ``to`` (after a form post), with a one-time message for the next page."""
    response = RedirectResponse(to, status_code=303)
    session = read_session(request)
    if flash is not None and session is not None:
        write_session(response, request, replace(session, flash=flash))
    return response


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after login (never another site)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


def error_page(request: Request, exc: MinshengError) -> Response:
    """A refusal or an error as a page in Chinese (status of the error)."""
    titles = {401: "需要登录", 403: "无权访问", 404: "没有找到", 409: "无法办理", 422: "填写有误"}
    return render(request, "page_error.html", exc.status,
                  title=titles.get(exc.status, "出错了"), message=exc.message,
                  error_status=exc.status)


class PageRoute(APIRoute):
    """A page route: refusals and errors become pages, a missing session a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return _to_login(request)
            except Unauthorized:
                response = _to_login(request, expired=True)
                clear_session(response, request)
                return response
            except MinshengError as exc:
                return error_page(request, exc)

        return page_handler


def _to_login(request: Request, *, expired: bool = False) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"/login?next={quote(here, safe='/')}" + ("&expired=1" if expired else "")
    return RedirectResponse(target, status_code=303)


# --- the login and logout pages -------------------------------------------------------------

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, expired: str | None = None) -> Response:
    session = read_session(request)
    message = "登录已失效（令牌无效、已撤销或已超时），请重新登录。" if expired else ""
    if session is not None and session.logged_in and not expired:
        message = f"您已以“{session.role_name}”身份登录；输入另一个令牌可切换身份。"
    return render(request, "login.html", nav="login", next=safe_next(next) or "",
                  error="", notice=message)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    values = await checked_form(request)
    token = first(values, "token")
    target = safe_next(first(values, "next"))
    if not token:
        return render(request, "login.html", 422, nav="login", next=target or "",
                      error="请粘贴访问令牌。", notice="")
    try:
        with UnitOfWork(database(request)) as uow:
            who = authenticate(uow, f"Bearer {token}")
    except Unauthorized:
        return render(request, "login.html", 401, nav="login", next=target or "",
                      error="访问令牌无效或已撤销。请检查是否完整复制（以 msk_ 开头），或向管理员重新申请。",
                      notice="")
    if who.role not in HOMES:
        return render(request, "login.html", 403, nav="login", next=target or "",
                      error=f"“{ROLES[who.role]}”令牌用于结算接口（POST /api/v1/settlements），"
                            "网页端没有该角色的页面。", notice="")
    with UnitOfWork(database(request), write=True) as uow:
        uow.audit.append(who.actor, "session.login", "token", who.token_id,
                         canonical_json({"via": "web"}))
        uow.commit()
    home = HOMES[who.role]
    if target and any(target == a or target.startswith(a + "/") or target.startswith(a + "?")
                      for a, roles in AREAS.items() if who.role in roles):
        home = target
    response = RedirectResponse(home, status_code=303)
    write_session(response, request, new_session(who.token_id, who.role,
                                                 ("ok", f"已登录：{ROLES[who.role]}")))
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request) -> Response:
    await checked_form(request)
    response = RedirectResponse("/login", status_code=303)
    write_session(response, request, new_session(flash=("ok", "已安全退出。")))
    return response


def not_found(what: str) -> NotFound:
    return NotFound(f"没有找到{what}", f"not found: {what}")

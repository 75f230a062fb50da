"""The two hot paths — the calculator and the settlement — served straight from ASGI.

``POST /api/v1/calculations/{name}`` and ``POST /api/v1/settlements`` are what a hospital's
billing system and a calculator page call all day. They are answered here, before the
application's middleware and router (server errors, exception handlers, exit stacks, body
limit wrappers, route matching over every route): about a sixth of the server's CPU per
request. The answers are the same as through the router — the same handlers, errors in
the same format (:func:`~minsheng.api.responses.error_response`) — and every other request goes the usual way.
The FastAPI routes of the same paths stay, for the OpenAPI schema and for clients that
come through the router (a mounted sub-application, tests calling the router directly).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from minsheng.api.responses import JSON, error_response
from minsheng.core.errors import MinshengError

Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY = 1 << 20
"""Bodies over 1 MiB are refused (413) unread: a claim or a calculation is a few hundred bytes."""


class HotPaths:
    """``POST`` paths answered directly: exact paths, and ``prefix/{name}`` paths whose last
    segment becomes the path parameter ``name``."""

    def __init__(self) -> None:
        self._exact: dict[str, Handler] = {}
        self._named: dict[str, Handler] = {}

    def exact(self, path: str, handler: Handler) -> None:
        self._exact[path] = handler

    def named(self, prefix: str, handler: Handler) -> None:
        """``prefix`` ends with ``/``; the rest of the path (one segment) is ``name``."""
        self._named[prefix] = handler

    def match(self, scope: Scope) -> tuple[Handler, dict[str, str]] | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        handler = self._exact.get(path)
        if handler is not None:
            return handler, {}
        prefix, _, name = path.rpartition("/")
        handler = self._named.get(prefix + "/")
        if handler is not None and name:
            return handler, {"name": name}
        return None

    async def serve(self, app: ASGIApp, found: tuple[Handler, dict[str, str]], scope: Scope,
                    receive: Receive, send: Send) -> None:
        handler, params = found
        scope["app"] = app
        scope["path_params"] = params
        request = Request(scope, receive)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            response: Response = JSON({"error": "invalid_input", "field": "body",
                                       "message": "body：请求体过大（至多 1 MiB）",
                                       "message_en": "body: request body too large"},
                                      status_code=413)
        else:
            try:
                response = await handler(request)
            except MinshengError as exc:
                response = error_response(exc)
        await response(scope, receive, send)

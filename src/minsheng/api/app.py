"""The FastAPI application: routes per topic, one error format for every face."""

from __future__ import annotations

import inspect
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import Receive, Scope, Send

from minsheng import __version__, web
from minsheng.api import service
from minsheng.api.hot_paths import HotPaths
from minsheng.api.responses import JSON, error_response
from minsheng.api.routes import calculations, casework_routes, settlements, settlements_preview
from minsheng.core.errors import MinshengError


class MinshengAPI(FastAPI):
    """FastAPI, with the hot paths (:mod:`minsheng.api.hot_paths`) answered first."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_paths = HotPaths()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.hot_paths.match(scope)
        if found is not None:
            await self.hot_paths.serve(self, found, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app() -> FastAPI:
    app = MinshengAPI(
        title="minsheng 民生",
        description="民生政策规则即代码：计算、结算与案件办理、批量模拟。"
                    "Rules as code for Chinese livelihood policy.",
        version=__version__,
        default_response_class=JSON,
        **_telemetry(),
    )

    @app.exception_handler(MinshengError)
    async def minsheng_error(_: Request, exc: MinshengError) -> JSON:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSON:
        return JSON(validation_body(exc.errors()), status_code=422)

    # the calculator's and the settlement writer's, before the middleware and the router
    app.hot_paths.named("/api/v1/calculations/", calculations.fast_run_calculation)
    app.hot_paths.exact("/api/v1/settlements", settlements.fast_settle)
    app.include_router(calculations.router)
    app.include_router(settlements_preview.router)
    for router in casework_routes.ROUTERS:  # issue 5: casework and watch lists
        app.include_router(router)
    service.install(app)  # persons, settlements, audit; database migrated on start
    web.install(app)  # pages in Chinese and /static
    return app


def validation_body(errors: Any) -> dict[str, Any]:
    """FastAPI's validation errors in minsheng's format, naming the first bad field."""
    items = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        items.append({"field": ".".join(loc) or "body", "message": e.get("msg", "")})
    first = items[0]["field"] if items else "body"
    return {"error": "invalid_input", "field": first,
            "message": f"{first}：请求格式不正确", "message_en": f"{first}: invalid request",
            "errors": items}


def _telemetry() -> dict[str, Any]:
    """FastAPI's OpenTelemetry hooks look up the providers on every request; without any
    OpenTelemetry setting in the environment there are none, so they are left off."""
    configured = any(k.startswith(("OTEL_", "FASTAPI_OTEL_")) for k in os.environ)
    if configured or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}

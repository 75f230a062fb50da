"""The pages in Chinese (Jinja2 + HTMX, no build step), served by the same app as the API.

``install(app)`` adds the page routes (``/``, ``/calculators``, ``/calculators/{name}``) and
serves ``static/`` (style sheet, scripts, htmx) at ``/static``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from minsheng.web.routes import STATIC_DIR, router


def install(app: FastAPI) -> None:
    """Serve the pages and their static files from ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["install", "router"]

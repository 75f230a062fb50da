"""The pages in Chinese (Jinja2 + HTMX, no build step), served by the same app as the API.

``install(app)`` adds the page routes (``/``, ``/calculators``, ``/calculators/{name}``) and
serves ``static/`` (style sheet, scripts, htmx) at ``/static``; and the pages behind a login
(:mod:`.session`): ``/login``, ``/me`` (:mod:`.citizen`), ``/agency`` (:mod:`.agency`) and
``/analyst`` (:mod:`.analyst`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from minsheng.web.routes import STATIC_DIR, router


def install(app: FastAPI) -> None:
    """Serve the pages and their static files from ``app``."""
    app.include_router(router)
    _install_logged_in_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def _install_logged_in_pages(app: FastAPI) -> None:
    """Issue 8, items 3–6: login, citizen self-service, agency console, analyst pages."""
    from minsheng.web import agency, analyst, citizen, session

    session.configure_secret(app)
    for part in (session, citizen, agency, analyst):
        app.include_router(part.router)


__all__ = ["install", "router"]

"""Mounts the settlement service on the app: its routes, its start-up and its 401 replies.

``install(app)`` is called by :func:`minsheng.api.app.create_app`. On start the database
of ``MINSHENG_DATABASE_URL`` (default: ``minsheng.db`` here) is created or migrated, and
resident ids are masked in every log record.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from minsheng.api.deps import STATE_KEY
from minsheng.api.responses import JSON, error_response
from minsheng.api.routes import audit, persons, settlements
from minsheng.service.auth import Unauthorized
from minsheng.service.db import get_database
from minsheng.service.masking import install_log_masking


def install(app: FastAPI) -> None:
    app.include_router(persons.router)
    app.include_router(settlements.router)
    app.include_router(audit.router)

    @app.exception_handler(Unauthorized)
    async def unauthorized(_: Request, exc: Unauthorized) -> JSON:
        return error_response(exc)  # with WWW-Authenticate

    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        install_log_masking()
        if getattr(app.state, STATE_KEY, None) is None:  # tests may set their own
            setattr(app.state, STATE_KEY, get_database())
        gc.freeze()  # what is loaded by now lives as long as the process: out of GC pauses
        async with previous(a) as state:
            yield state
        logging.getLogger("minsheng").debug("service stopped")

    app.router.lifespan_context = lifespan

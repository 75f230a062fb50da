"""The casework routers (issue 5), included by :func:`minsheng.api.app.create_app`."""

from __future__ import annotations

from minsheng.api.routes import (
    casework_assistance,
    casework_filings,
    casework_recognitions,
    casework_transfers,
    casework_watch_lists,
)

ROUTERS = (casework_filings.router, casework_transfers.router, casework_recognitions.router,
           casework_assistance.router, casework_watch_lists.router)

"""Resident ids never reach a log in full: a filter masks them in every record."""

from __future__ import annotations

import logging

from minsheng.core.resident_id import mask_certnos_in

LOGGERS = ("", "minsheng", "uvicorn", "uvicorn.access", "uvicorn.error", "sqlalchemy")


class CertnoMasking(logging.Filter):
    """Rewrites a record's message with every resident-id-shaped number masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_certnos_in(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


_FILTER = CertnoMasking()


def install_log_masking() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)

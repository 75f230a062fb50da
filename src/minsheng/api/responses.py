"""JSON responses rendered with orjson (money is already text, so nothing is lost)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from minsheng.core.errors import MinshengError


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_headers(status: int) -> dict[str, str]:
    """What an error response carries besides its body: 401 says which scheme to use."""
    return {"WWW-Authenticate": "Bearer"} if status == 401 else {}


def error_response(exc: MinshengError) -> JSON:
    """An error of minsheng's, as every face answers it."""
    return JSON(exc.to_dict(), status_code=exc.status, headers=error_headers(exc.status))

"""A request body as JSON, or the error that names the body."""

from __future__ import annotations

from typing import Any

import orjson

from minsheng.core.errors import InputError


def load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InputError("body", "请求体不是有效的 JSON", "body is not valid JSON") from None

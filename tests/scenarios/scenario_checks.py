"""What both scenario runners check the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from minsheng.core.errors import MinshengError


def assert_refused(expected: dict[str, Any], go: Callable[[], object]) -> None:
    """``go()`` raises minsheng's error with ``expected``: its ``kind``, a part of its
    ``message``, and any other field of the error body exactly."""
    with pytest.raises(MinshengError) as caught:
        go()
    body = caught.value.to_dict()
    for key, value in expected.items():
        if key == "kind":
            assert body["error"] == value, body
        elif key == "message":
            assert value in body["message"], body
        else:
            assert body.get(key) == value, body

"""Parameter overrides (a reform) read from a JSON file (:func:`load_overrides`), and the
parameter view they give (:func:`parameter_view`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from minsheng.core.errors import InputError
from minsheng.core.parameters import ParameterView, default_store


def load_overrides(path: Path | None, view_store: Any = None) -> dict[str, Any]:
    """Parameter overrides from a JSON file (an object like ``"parameters"`` of settle-input.json).

    Returns the raw values (kept raw so that they can be sent to Spark workers); each is
    checked against its parameter's unit here. ``null`` in the file means none."""
    if path is None:
        return {}
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise InputError("--params", f"文件不存在：{path}", "no such file") from None
    except ValueError as exc:
        raise InputError("--params", f"不是有效的 JSON：{exc}", "not valid JSON") from None
    if raw is None:
        return {}
    if isinstance(raw, Mapping) and set(raw) == {"parameters"}:
        raw = raw["parameters"] or {}
    if not isinstance(raw, Mapping):
        raise InputError("--params", "应为 JSON 对象 {参数名: 取值}", "expected a JSON object")
    store = view_store or default_store()
    store.parse_overrides(raw)
    return dict(raw)


def parameter_view(overrides: Mapping[str, Any]) -> ParameterView:
    store = default_store()
    return ParameterView(store, store.parse_overrides(overrides))

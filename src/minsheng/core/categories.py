"""Assistance categories (救助对象类别) of CONTRACT.md, by key or by Chinese name."""

from __future__ import annotations

from collections.abc import Iterable

from minsheng.core.errors import InputError

CATEGORIES: dict[str, str] = {
    "extreme_poverty": "特困人员",
    "minimum_allowance": "低保对象",
    "relapsed_poverty": "返贫致贫人口",
    "at_risk_poverty": "易返贫致贫人口",
    "monitored": "监测对象",
    "marginal_allowance": "低保边缘家庭成员",
    "illness_impoverished": "因病致贫重病患者",
    "lifted_from_poverty": "脱贫人口",
    "orphan": "孤儿",
}

_ALIASES: dict[str, str] = {zh: key for key, zh in CATEGORIES.items()}
_ALIASES.update({
    "乡村振兴部门监测对象": "monitored",
    "监测对象 (乡村振兴部门监测对象)": "monitored",
    "特困": "extreme_poverty",
    "低保": "minimum_allowance",
    "返贫致贫": "relapsed_poverty",
    "易返贫致贫": "at_risk_poverty",
    "低保边缘": "marginal_allowance",
    "脱贫": "lifted_from_poverty",
})


def category_key(value: str, field: str = "categories") -> str:
    text = value.strip()
    if text in CATEGORIES:
        return text
    key = _ALIASES.get(text)
    if key is None:
        raise InputError(field, f"未知的救助对象类别 {text!r}（可用：{'、'.join(CATEGORIES.values())}）",
                         f"unknown category {text!r}")
    return key


def parse_categories(raw: object, field: str = "categories") -> tuple[str, ...]:
    """A list of keys or Chinese names, or one comma-separated string (``""`` is empty)."""
    if raw is None:
        return ()
    items: Iterable[object]
    if isinstance(raw, str):
        items = [s for s in raw.replace("，", ",").split(",") if s.strip()]
    elif isinstance(raw, list | tuple):
        items = raw
    else:
        raise InputError(field, "应为类别列表", "expected a list of categories")
    keys: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(f"{field}[{i}]", "类别应为文本", "category must be text")
        key = category_key(item, f"{field}[{i}]")
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def label(key: str) -> str:
    return CATEGORIES[key]

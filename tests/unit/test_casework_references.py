"""Every casework parameter quotes its seed text word for word (line breaks aside)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minsheng.core.parameters import default_store

SEEDS = Path(__file__).parents[3] / "shared" / "seeds"
PREFIXES = ("casework.", "social_assistance.")


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared/seeds not beside the project")
def test_every_casework_clause_is_quoted_from_its_seed() -> None:
    store = default_store()
    checked = 0
    for name, by_region in store.entries.items():
        if not name.startswith(PREFIXES):
            continue
        for entries in by_region.values():
            for e in entries:
                seed = _flat((SEEDS / e.reference.source).read_text("utf-8"))
                for part in e.reference.clause.split("……"):
                    assert _flat(part) in seed, (name, part)
                checked += 1
    assert checked >= 15

"""The clauses quoted by the assistance parameters are the seeds' own words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minsheng.core.parameters import default_store

SEEDS = Path(__file__).parents[3] / "shared" / "seeds"
FILES = ("shanxi/enrollment_subsidy.yaml", "shanxi/monitoring.yaml",
         "shanxi/deposit_waiver.yaml", "jilin/charity.yaml")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed texts are not beside the project")
def test_every_quoted_clause_is_found_in_its_seed_apart_from_line_breaks() -> None:
    store = default_store()
    checked = 0
    for name, by_region in store.entries.items():
        for entries in by_region.values():
            for e in entries:
                if e.file not in FILES or not e.reference.clause:
                    continue
                seed = _squash((SEEDS / e.reference.source).read_text("utf-8"))
                # "……" marks a sentence the page breaks across two columns
                for fragment in e.reference.clause.split("……"):
                    assert _squash(fragment) in seed, (name, fragment)
                checked += 1
    assert checked >= 10

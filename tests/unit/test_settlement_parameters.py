"""The settlement parameter files: cited clauses are quoted from the seeds; examples say so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
PARAMS = ROOT / "src" / "minsheng" / "parameters"
SEEDS = ROOT.parent / "shared" / "seeds"
FILES = ("shanxi/medical_assistance.yaml", "shanxi/settlement_examples.yaml",
         "jilin/settlement_examples.yaml")


def entries(name: str) -> list[tuple[str, dict[str, Any]]]:
    doc = yaml.safe_load((PARAMS / name).read_text("utf-8"))
    return [(param, entry) for param, spec in doc["parameters"].items()
            for entry in spec["values"]]


@pytest.mark.parametrize("name", FILES)
def test_every_cited_clause_is_quoted_word_for_word_from_its_seed(name: str) -> None:
    for param, entry in entries(name):
        ref = entry["reference"]
        if entry.get("example"):
            continue
        seed = SEEDS / ref["source"]
        if not seed.exists():
            pytest.skip("shared/seeds is not beside the project")
        text = seed.read_text("utf-8")
        for part in ref["clause"].split("……"):
            assert part.strip() in text, (param, part)


@pytest.mark.parametrize("name", FILES)
def test_every_example_value_is_marked_and_its_note_says_so(name: str) -> None:
    for param, entry in entries(name):
        if "shared/examples" in entry["reference"]["source"]:
            assert entry.get("example") is True, param
        if entry.get("example"):
            assert "示例" in entry["reference"]["note"], param
            assert entry["from"].isoformat() == "2020-01-01", param


def test_the_shanxi_assistance_tier_is_cited_to_the_implementing_opinion_from_2022_11_08() -> None:
    found = entries("shanxi/medical_assistance.yaml")
    assert len(found) == 30  # 6 categories × 5 parameters
    for param, entry in found:
        assert entry["reference"]["source"] == "002_e6e604b5a3b60eed.txt", param
        assert entry["from"].isoformat() == "2022-11-08", param
        assert not entry.get("example"), param

"""Every malformed parameter file is refused at load with an error naming file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minsheng.core.errors import ParameterFileError
from minsheng.core.parameters import ParameterStore, default_store

MALFORMED = Path(__file__).parent / "malformed_parameters"
EXPECTED: dict[str, str] = json.loads((MALFORMED / "expected.json").read_text("utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_malformed_parameter_file_is_refused_naming_file_and_key(name: str) -> None:
    with pytest.raises(ParameterFileError) as caught:
        ParameterStore().load_file(MALFORMED / f"{name}.yaml", f"{name}.yaml")
    assert caught.value.file == f"{name}.yaml"
    assert caught.value.key == EXPECTED[name]


def test_every_malformed_file_has_its_expectation() -> None:
    assert {p.stem for p in MALFORMED.glob("*.yaml")} == set(EXPECTED)


def test_a_parameter_declared_with_two_units_in_two_files_is_refused() -> None:
    store = ParameterStore()
    ref = {"source": "000_41bda435cb7595ae.txt"}
    store.load_document({"jurisdiction": "220000", "parameters": {"x": {
        "description": "测试", "unit": "money",
        "values": [{"from": "2021-01-01", "value": "1.00", "reference": ref}]}}}, "a.yaml")
    with pytest.raises(ParameterFileError) as caught:
        store.load_document({"jurisdiction": "140000", "parameters": {"x": {
            "description": "测试", "unit": "ratio", "values": []}}}, "b.yaml")
    assert (caught.value.file, caught.value.key) == ("b.yaml", "x.unit")


def test_a_bad_file_adds_nothing_to_the_store() -> None:
    store = ParameterStore()
    with pytest.raises(ParameterFileError):
        store.load_file(MALFORMED / "missing_reference.yaml", "missing_reference.yaml")
    assert store.declarations == {}


def test_every_shipped_value_cites_a_source_and_every_example_says_so() -> None:
    store = default_store()
    seeds = {p.name for p in (Path(__file__).parents[3] / "shared" / "seeds").glob("*.txt")}
    for name, by_region in store.entries.items():
        for entries in by_region.values():
            for e in entries:
                assert e.reference.source, name
                if e.example:
                    assert "示例" in e.reference.note or "example" in e.reference.note.lower()
                elif seeds and e.reference.source.endswith(".txt"):
                    assert e.reference.source in seeds, (name, e.reference.source)

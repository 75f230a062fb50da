"""Fixtures of the batch tests: small synthetic provinces and one Spark session (local[2])."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from batch_helpers import Population, make_population


@pytest.fixture(scope="session")
def shanxi(tmp_path_factory: pytest.TempPathFactory) -> Population:
    """About 4,400 claims of 1,000 synthetic Shanxi persons in 2023 (Parquet)."""
    return make_population(tmp_path_factory.mktemp("shanxi"), 1000, seed=11)


@pytest.fixture(scope="session")
def shanxi_csv(tmp_path_factory: pytest.TempPathFactory) -> Population:
    """The same persons and claims as ``shanxi``, as CSV."""
    return make_population(tmp_path_factory.mktemp("shanxi_csv"), 1000, seed=11, fmt="csv")


@pytest.fixture(scope="session")
def jilin(tmp_path_factory: pytest.TempPathFactory) -> Population:
    """Synthetic Jilin persons and their claims in 2021 (when Jilin's fiscal subsidy is encoded)."""
    return make_population(tmp_path_factory.mktemp("jilin"), 400, seed=5, province="220000",
                           year=2021)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One SparkSession for every Spark test (local mode, two cores)."""
    from minsheng.batch.spark import spark_session

    session = spark_session("local[2]", "minsheng-tests")
    yield session
    session.stop()

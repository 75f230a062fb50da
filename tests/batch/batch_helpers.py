"""Helpers of the batch tests (synthetic populations, reading outputs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from minsheng.batch import synthetic


@dataclass
class Population:
    dir: Path
    claims: Path
    persons: Path

    def claims_frame(self) -> pl.DataFrame:
        return pl.read_parquet(self.claims) if self.claims.suffix == ".parquet" else \
            pl.read_csv(self.claims, infer_schema=False)


def make_population(root: Path, n: int, seed: int, province: str = "140000", year: int = 2023,
                    fmt: str = "parquet") -> Population:
    data = synthetic.generate(n, seed, province, year)
    paths = synthetic.write(data, root, fmt)
    return Population(root, Path(paths["claims"]), Path(paths["persons"]))


def read_output(path: Path) -> pl.DataFrame:
    """A batch output folder as one frame, in a fixed order."""
    frame = pl.read_parquet(path)
    return frame.sort("setl_id" if "setl_id" in frame.columns else ["psn_no", "year"])

"""The fast paths of the local engine give exactly what a plain pipeline gives.

The plain pipeline reads every claim, finds each person with a join on the texts, parses
money with ``decimal.Decimal``, puts the claims in settlement order with a Polars sort by
person, time and ``setl_id``, calls the kernel on the whole file at once and writes money
with Python's own formatting. The engine (hash lookups, packed-key sorts, chunks, worker
processes, Parquet parts) must agree with it value for value and row for row.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from batch_helpers import Population

from minsheng.batch import local
from minsheng.batch.checks import money_of
from minsheng.batch.chunks import settlement_order
from minsheng.batch.columns import AMOUNTS, CAP_ROOMS, OUTPUT_MONEY, SECONDS_PER_DAY
from minsheng.batch.money_text import money_texts
from minsheng.batch.overrides import parameter_view
from minsheng.batch.persons import HashIndex, load_persons
from minsheng.rules.settlement import Claims, resolve, settle


def _text(fen: int) -> str | None:
    return None if fen < 0 else f"{fen // 100}.{fen % 100:02d}"


def _reference(claims_path: Path, persons_path: Path) -> pl.DataFrame:
    """Every claim settled by the plain pipeline, in settlement order."""
    persons = load_persons(persons_path)
    index = pl.DataFrame({"psn_no": persons.psn_no, "pidx": np.arange(len(persons))})
    claims = pl.read_parquet(claims_path).with_columns(
        pl.col("setl_id").str.strip_chars(), pl.col("psn_no").str.strip_chars(),
        pl.col("setl_time").dt.epoch("s").alias("t"))
    claims = claims.join(index, on="psn_no", how="left").sort(["pidx", "t", "setl_id"])
    fen = {a: np.array([int(Decimal(str(v)) * 100) for v in claims[a].to_list()], np.int64)
           for a in AMOUNTS}
    pidx = claims["pidx"].to_numpy()
    batch = Claims.from_columns({
        "person": pidx, "day": claims["t"].to_numpy() // SECONDS_PER_DAY,
        "region": persons.region[pidx], "resident": persons.resident[pidx],
        "med_type": claims["med_type"].to_numpy(), "hosp_lv": claims["hosp_lv"].to_numpy(),
        "in_province": claims["in_province"].to_numpy(),
        "categories": persons.categories[pidx], **fen})
    result = settle(batch, resolve(batch, parameter_view({})))
    return pl.DataFrame({
        "setl_id": claims["setl_id"], "psn_no": persons.psn_no.gather(pidx),
        **{k: pl.Series([_text(v) for v in getattr(result, k).tolist()], dtype=pl.String)
           for k in (*OUTPUT_MONEY, *CAP_ROOMS)}})


def _with_ties_and_padding(pop: Population, path: Path) -> Path:
    """The population's claims, plus claims of the same person in the same second (told apart
    by ``setl_id`` only, written in reverse order) and ids padded with spaces."""
    claims = pl.read_parquet(pop.claims)
    first = claims.head(60)
    twins = pl.concat([
        first.with_columns((pl.col("setl_id") + pl.lit(suffix)).alias("setl_id"))
        for suffix in ("-b", "-a")])
    padded = claims.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit(" ") + pl.col("psn_no") + pl.lit("  "))
        .otherwise(pl.col("psn_no")).alias("psn_no"),
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.col("setl_id") + pl.lit(" "))
        .otherwise(pl.col("setl_id")).alias("setl_id"))
    pl.concat([padded, twins]).write_parquet(path, row_group_size=900)
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_the_engine_settles_a_file_exactly_as_the_plain_pipeline_does(
        shanxi: Population, tmp_path: Path, workers: int) -> None:
    claims = _with_ties_and_padding(shanxi, tmp_path / "claims.parquet")
    expected = _reference(claims, shanxi.persons)
    summary = local.settle_file(claims, shanxi.persons, tmp_path / "out", chunk_rows=700,
                                workers=workers)
    assert summary.chunks >= 6
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    got = pl.concat([pl.read_parquet(p) for p in parts])  # parts follow the persons' order
    assert got.height == expected.height == summary.rows
    assert got.equals(expected)
    ties = got.filter(pl.col("setl_id").str.ends_with("-a") | pl.col("setl_id").str.ends_with("-b"))
    assert ties["setl_id"].str.tail(1).to_list() == ["a", "b"] * 60  # "-a" just before its "-b"


def test_a_hash_index_finds_each_key_even_when_keys_share_their_high_bits() -> None:
    # with five keys the low three bits hold the position: 5 and 3 share their high bits
    keys = np.array([5, 3, 5 + (1 << 40), 9, 3 + (1 << 50)], np.uint64)
    index = HashIndex(keys)
    assert index.distinct
    queries = np.array([5, 3, 5 + (1 << 40), 9, 3 + (1 << 50), 7, 0, 2**64 - 1, 3], np.uint64)
    assert index.find(queries).tolist() == [0, 1, 2, 3, 4, -1, -1, -1, 1]
    assert not HashIndex(np.array([5, 5], np.uint64)).distinct
    assert HashIndex(np.zeros(0, np.uint64)).find(queries).tolist() == [-1] * len(queries)


@pytest.mark.parametrize("seed", range(6))
def test_a_hash_index_finds_what_a_dictionary_finds(seed: int) -> None:
    # keys crowded into few high bits and repeated: long probe runs, ties, absent queries
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    high = rng.integers(0, 1 << int(rng.integers(1, 12)), n).astype(np.uint64) << np.uint64(52)
    keys = high | rng.integers(0, 50, n).astype(np.uint64)
    if seed % 2:
        keys[-1] = np.uint64(2**64 - 1)  # the very last slot's home
    first: dict[int, int] = {}
    for i, k in enumerate(keys.tolist()):
        first.setdefault(k, i)
    queries = np.concatenate([keys, rng.integers(0, 2**63, 500).astype(np.uint64) << np.uint64(1),
                              keys + np.uint64(1)])
    index = HashIndex(keys)
    assert index.distinct == (len(first) == n)
    assert index.find(queries).tolist() == [first.get(q, -1) for q in queries.tolist()]


def test_a_claims_person_is_the_one_with_the_same_text_and_no_other(shanxi: Population) -> None:
    persons = load_persons(shanxi.persons)
    wanted = pl.concat([persons.psn_no.sample(3000, with_replacement=True, seed=1),
                        pl.Series(["nobody", "", None, " P000000000"], dtype=pl.String)])
    joined = pl.DataFrame({"psn_no": wanted}).join(
        pl.DataFrame({"psn_no": persons.psn_no, "pidx": np.arange(len(persons))}),
        on="psn_no", how="left", maintain_order="left")["pidx"].fill_null(-1).to_numpy()
    assert persons.lookup(wanted).tolist() == joined.tolist()
    # were two persons' hashes alike, the texts would be joined instead: the same answer
    persons._by_hash = HashIndex(np.zeros(len(persons), np.uint64))
    assert persons.lookup(wanted).tolist() == joined.tolist()


def test_ids_of_one_length_are_compared_byte_for_byte(shanxi: Population) -> None:
    persons = load_persons(shanxi.persons)
    wanted = pl.concat([persons.psn_no.sample(3000, with_replacement=True, seed=2),
                        pl.Series(["Q000000000", "P99999999x"])])  # same length, nobody's
    right = pl.DataFrame({"psn_no": wanted}).join(
        pl.DataFrame({"psn_no": persons.psn_no, "pidx": np.arange(len(persons))}),
        on="psn_no", how="left", maintain_order="left")["pidx"].fill_null(-1).to_numpy()
    assert persons.lookup(wanted).tolist() == right.tolist()
    assert persons._fixed is not None and persons._fixed[0] == len(wanted[0])  # the byte path

    class Colliding:  # a hash table that answers the next person: the bytes must say no
        distinct = True

        def find(self, queries: np.ndarray) -> np.ndarray:
            return np.where(right >= 0, (right + 1) % len(persons), 5)

    persons._by_hash = Colliding()  # type: ignore[assignment]
    assert persons.lookup(wanted).tolist() == [-1] * len(wanted)


def test_money_is_written_with_two_decimals_and_an_absent_cap_left_empty() -> None:
    fen = np.array([0, 1, 5, 9, 10, 99, 100, 101, 999, 1000, 58000, 1240, 10**9 - 1, 10**11,
                    10**12, 10**14 + 7], np.int64)
    texts = money_texts({"hifp_pay": fen, "basic_cap_left": np.r_[fen[:-1], -1]})
    assert texts["hifp_pay"].to_list() == [_text(v) for v in fen.tolist()]
    assert texts["basic_cap_left"].to_list()[-1] is None
    assert texts["basic_cap_left"].to_list()[:-1] == [_text(v) for v in fen[:-1].tolist()]


@pytest.mark.parametrize(("persons", "seconds"), [(50, 30), (20_000, 10**6), (2**30, 2**35)])
def test_the_settlement_order_is_by_person_time_and_setl_id(persons: int, seconds: int) -> None:
    # the last case does not fit one 64-bit key: the other sort must give the same order
    rng = np.random.default_rng(persons)
    n = 5000
    frame = pl.DataFrame({
        "pidx": rng.integers(0, persons, n), "t": rng.integers(1_672_531_200, 1_672_531_200 + seconds, n),
        "setl_id": [f"C{i:06d}" for i in rng.permutation(n)], "row": np.arange(n)})
    assert frame[settlement_order(frame)].equals(frame.sort(["pidx", "t", "setl_id"]))


@pytest.mark.parametrize(("dtype", "values", "fen", "problems"), [
    (pl.Decimal(14, 2), ["131.46", "0", "-1", "10000000000", "10000000000.01", None],
     [13146, 0, -100, 10**12, None, None],
     [None, None, "金额不能为负", None, "金额过大", "缺少金额"]),
    (pl.Decimal(10, 0), ["5", "9000000000", "-3"], [500, 900_000_000_000, -300],
     [None, None, "金额不能为负"]),
    (pl.Decimal(12, 1), ["12.3", "0.1"], [1230, 10], [None, None]),
    (pl.Decimal(38, 2), ["123456789012345678901234567.89"], [None], ["金额过大"]),
])
def test_decimal_amounts_become_fen_by_integer_arithmetic(
        dtype: pl.Decimal, values: list[str | None], fen: list[int | None],
        problems: list[str | None]) -> None:
    frame = pl.DataFrame({"x": pl.Series([None if v is None else Decimal(v) for v in values],
                                         dtype=dtype)})
    amount, checks = money_of("x", dtype)
    out = frame.select(amount.alias("fen"), *[e.fill_null(False).alias(zh) for e, zh, _ in checks])
    first_problem = [next((zh for _, zh, _ in checks if row[zh]), None)
                     for row in out.iter_rows(named=True)]
    assert first_problem == problems
    assert [f if p is None else None for f, p in zip(out["fen"].to_list(), problems, strict=True)] \
        == [f if p is None else None for f, p in zip(fen, problems, strict=True)]


def test_the_parts_compression_changes_the_files_and_not_the_values(shanxi: Population,
                                                                    tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from minsheng.core.errors import InputError

    frames = {}
    for compression in ("none", "zstd"):
        out = tmp_path / compression
        local.settle_file(shanxi.claims, shanxi.persons, out, chunk_rows=2000,
                          compression=compression)
        part = pq.ParquetFile(sorted(out.glob("part-*.parquet"))[0])
        assert part.metadata.row_group(0).column(2).compression == \
            {"none": "UNCOMPRESSED", "zstd": "ZSTD"}[compression]
        frames[compression] = pl.read_parquet(out)
    assert frames["none"].equals(frames["zstd"])
    with pytest.raises(InputError) as err:
        local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "x", compression="gzip9")
    assert err.value.field == "--compression"


def _prepared(ids: list[str], first_person: int) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame({
        "pidx": np.arange(first_person, first_person + n), "t": np.full(n, 1_672_531_200),
        "setl_id": ids, "med_type": np.full(n, 11, np.int8), "hosp_lv": np.full(n, 1, np.int8),
        "in_province": np.ones(n, np.bool_), **{a: np.full(n, 100) for a in AMOUNTS}})


def test_setl_ids_spilled_as_words_or_as_texts_come_back_as_they_were(tmp_path: Path) -> None:
    from minsheng.batch.columns import spilled_width
    from minsheng.batch.ingest import _BucketSink, read_bucket

    batches = [["C0000001", "C0000002"],  # one width: spilled as words
               ["C000000000000000003", "C000000000000000004"],  # another width
               ["C5", "C000006", "长的编号七"]]  # widths differ: spilled as texts
    sink = _BucketSink(tmp_path, 1, 100)
    for k, ids in enumerate(batches):
        sink(_prepared(ids, 10 * k))
    sink.close()
    assert len(list(tmp_path.glob("bucket-00000*.arrow"))) == 3
    both = read_bucket(str(tmp_path), 0)
    assert sorted(both.column("setl_id").to_pylist()) == sorted(i for ids in batches for i in ids)
    sink = _BucketSink(tmp_path / "one", 1, 100)
    (tmp_path / "one").mkdir()
    sink(_prepared(batches[0], 0))
    sink(_prepared(["C0000009"], 50))
    sink.close()
    alone = read_bucket(str(tmp_path / "one"), 0)
    assert spilled_width(alone.schema) == 8
    assert "setl_id" not in alone.column_names

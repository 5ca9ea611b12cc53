"""`split.method: hash`: rows keep their split as the table grows."""

import json
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from rebalance.config import SplitConfig, load_config
from rebalance.errors import DataError
from tasks.core.columns import SPLITS, Columns
from tasks.run.hashsplit import (
    assign_hash_splits,
    pins_for_manifest,
    pins_in,
    pins_of,
    tolerance,
)
from tasks.run.keyhash import key_hash
from tasks.run.split import split_frame, split_streaming
from tasks.tabular.modality import MODALITY as TABULAR
from tasks.text.modality import MODALITY as TEXT
from tests.helpers import loans_frame, split_without_prefect, write_config

FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


def _table(rows: int, *, start: int = 0, seed: int = 0) -> pl.DataFrame:
    """Rows with ids start.. and a 90/9/1% label; a 1% class of a few rows is small."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "id": [f"r{index}" for index in range(start, start + rows)],
            "x": rng.normal(size=rows).round(6),
            "y": rng.choice(["a", "b", "c"], rows, p=[0.9, 0.09, 0.01]),
        }
    )


def _split_of(result) -> dict[str, str]:
    """id -> split name."""
    return {
        row_id: name
        for name, frame in result.frames().items()
        for row_id in frame.lazy().select("id").collect()["id"].to_list()
    }


def _hash_split(frame: pl.DataFrame, *, seed: int = 1, pinned=None):
    return split_frame(
        frame,
        label="y",
        fractions=FRACTIONS,
        seed=seed,
        hash_keys=frame.select("id"),
        pinned=pinned,
    )


def _streamed(frame: pl.DataFrame, run_dir, *, seed: int = 1, pinned=None):
    run_dir.mkdir()
    return split_streaming(
        frame.lazy(),
        label="y",
        fractions=FRACTIONS,
        seed=seed,
        group_keys=lambda batch: None,
        run_dir=run_dir,
        batch_rows=97,
        hash_keys=lambda batch: batch.select("id"),
        pinned=pinned,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_appending_ten_percent_new_rows_keeps_every_old_row_in_its_split(seed):
    night_one = _table(2000, seed=seed)
    night_two = pl.concat([night_one, _table(200, start=2000, seed=seed + 100)])

    first = _hash_split(night_one, seed=seed)
    second = _hash_split(night_two, seed=seed, pinned=first.pinned)

    before, after = _split_of(first), _split_of(second)
    assert len(after) == 2200
    assert {row_id: after[row_id] for row_id in before} == before
    # Not everything in one split: the new rows spread over all three.
    assert {after[f"r{index}"] for index in range(2000, 2200)} == set(SPLITS)


def test_a_streamed_table_splits_as_in_memory_and_keeps_old_rows_as_it_grows(tmp_path):
    night_one = _table(1500, seed=3)
    night_two = pl.concat([night_one, _table(150, start=1500, seed=4)])

    in_memory = _hash_split(night_one)
    first = _streamed(night_one, tmp_path / "one")
    second = _streamed(night_two, tmp_path / "two", pinned=first.pinned)

    assert _split_of(first) == _split_of(in_memory)
    assert first.pinned == in_memory.pinned
    before, after = _split_of(first), _split_of(second)
    assert {row_id: after[row_id] for row_id in before} == before


def test_a_rows_split_depends_on_its_key_alone_not_on_the_other_rows():
    frame = _table(1000, seed=5)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=9)

    assert _split_of(_hash_split(frame)) == _split_of(_hash_split(shuffled))
    assert _split_of(_hash_split(frame, seed=2)) != _split_of(_hash_split(frame))


@pytest.mark.parametrize("keys", [200, 1000, 5000])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_class_shares_stay_within_the_stated_tolerance(keys, seed):
    labels = pl.Series("y", ["big"] * keys + ["rare"] * (keys // 10))
    hashes = key_hash(pl.DataFrame({"id": [f"k{i}" for i in range(labels.len())]}))

    assignment = assign_hash_splits(labels, hashes, fractions=FRACTIONS, seed=seed).assignment

    for name in ("big", "rare"):
        in_class = assignment[(labels == name).to_numpy()]
        for index, split in enumerate(SPLITS):
            share = (in_class == index).mean()
            assert abs(share - FRACTIONS[split]) <= tolerance(in_class.size, FRACTIONS[split])


def test_the_tolerance_shrinks_with_the_square_root_of_the_class():
    assert tolerance(1000, 0.7) == pytest.approx(4 * (0.21 / 1000) ** 0.5)
    assert tolerance(10_000, 0.15) == pytest.approx(tolerance(100, 0.15) / 10)


@pytest.mark.parametrize("seed", range(40))
def test_a_small_class_gets_a_row_in_every_split_and_its_holdout_rows_never_go_to_train(seed):
    # A class of 3 rows grows by one row a night for 6 nights, in a growing table.
    rng = np.random.default_rng(seed)
    ids = [f"big{i}" for i in range(60)] + ["tiny0", "tiny1", "tiny2"]
    pinned: dict[int, int] = {}
    seen: dict[str, str] = {}
    for night in range(7):
        labels = pl.Series("y", ["tiny" if i.startswith("tiny") else "big" for i in ids])
        hashes = key_hash(pl.DataFrame({"id": ids}))
        assigned = assign_hash_splits(labels, hashes, fractions=FRACTIONS, seed=seed, pinned=pinned)
        splits = dict(zip(ids, (SPLITS[i] for i in assigned.assignment), strict=True))
        tiny = {splits[i] for i in ids if i.startswith("tiny")}
        assert tiny == set(SPLITS), f"night {night}"
        for row_id, before in seen.items():
            assert before == "train" or splits[row_id] != "train", f"{row_id} night {night}"
        seen, pinned = splits, assigned.pinned
        ids = [*ids, f"tiny{night + 3}", *(f"big{60 + 10 * night + k}" for k in range(10))]
        rng.shuffle(ids)


def test_a_pin_is_kept_when_new_rows_make_it_unneeded():
    labels = pl.Series("y", ["big"] * 40 + ["tiny"] * 3)
    ids = [f"b{i}" for i in range(40)] + ["t0", "t1", "t2"]
    hashes = key_hash(pl.DataFrame({"id": ids}))
    # A seed whose bands leave the tiny class without val or test: a row is pinned there.
    seed = next(
        s
        for s in range(200)
        if assign_hash_splits(labels, hashes, fractions=FRACTIONS, seed=s).pinned
    )
    first = assign_hash_splits(labels, hashes, fractions=FRACTIONS, seed=seed)
    assert first.pinned
    # Many more tiny rows: the class no longer needs the pin, which stays.
    more = [f"t{i}" for i in range(3, 60)]
    grown = key_hash(pl.DataFrame({"id": ids + more}))
    grown_labels = pl.Series("y", ["big"] * 40 + ["tiny"] * (3 + len(more)))

    second = assign_hash_splits(
        grown_labels, grown, fractions=FRACTIONS, seed=seed, pinned=first.pinned
    )

    for key, split in first.pinned.items():
        assert second.assignment[grown == np.uint64(key)].tolist() == [split]
        assert second.pinned[key] == split


def test_groups_and_duplicates_share_one_split():
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {
            "id": [f"r{i}" for i in range(600)],
            "g": rng.integers(0, 80, 600),
            "x": rng.integers(0, 40, 600),  # many rows repeat another's features
            "y": rng.choice(["a", "b"], 600),
        }
    )
    columns = Columns(label="y", features=("x",), id_column="id", group_column="g")
    by_group = SimpleNamespace(split=SplitConfig(method="hash"))
    no_group = Columns(label="y", features=("x",), id_column="id")

    for keys, column in (
        (TABULAR.hash_keys(frame, columns, by_group), "g"),
        (TABULAR.hash_keys(frame, no_group, by_group), "x"),
    ):
        result = split_frame(frame, label="y", fractions=FRACTIONS, seed=0, hash_keys=keys)
        owners = [set(part[column].to_list()) for part in result.frames().values()]
        assert all(owners[i].isdisjoint(owners[j]) for i, j in ((0, 1), (0, 2), (1, 2)))
        assert result.grouped_rows > 0


def test_the_key_is_the_group_else_the_content_else_the_id():
    frame = pl.DataFrame({"id": ["a", "b"], "g": [1, 1], "x": [5, 5], "y": ["p", "q"]})
    grouped = Columns(label="y", features=("x",), id_column="id", group_column="g")
    plain = Columns(label="y", features=("x",), id_column="id")
    together = SimpleNamespace(split=SplitConfig(method="hash"))
    apart = SimpleNamespace(split=SplitConfig(method="hash", keep_duplicates_together=False))

    assert TABULAR.hash_keys(frame, grouped, apart).columns == ["g"]
    assert TABULAR.hash_keys(frame, plain, together).columns == ["x"]
    assert TABULAR.hash_keys(frame, plain, apart).columns == ["id"]


def test_text_is_keyed_by_its_normalised_text_unless_an_id_column_is_named():
    frame = pl.DataFrame({"row_id": [1, 2], "text": ["Hello  World", "hello world"]})
    columns = Columns(label="y", features=("text",), id_column="row_id")
    unnamed = SimpleNamespace(id_column=None, split=SplitConfig(keep_duplicates_together=False))
    named = SimpleNamespace(id_column="row_id", split=unnamed.split)

    by_text = key_hash(TEXT.hash_keys(frame, columns, unnamed))
    by_id = key_hash(TEXT.hash_keys(frame, columns, named))

    assert by_text[0] == by_text[1]
    assert by_id[0] != by_id[1]


def test_a_class_in_too_few_keys_is_named():
    frame = pl.DataFrame({"x": [1] * 3 + list(range(30)), "y": ["rare"] * 3 + ["big"] * 30})

    with pytest.raises(DataError, match=r"class 'rare' of label 'y' \(3 rows, 1 distinct keys\)"):
        split_frame(frame, label="y", fractions=FRACTIONS, seed=0, hash_keys=frame.select("x"))


def test_the_config_key_defaults_to_stratified_and_refuses_other_methods():
    assert SplitConfig().method == "stratified"
    assert SplitConfig(method="hash").method == "hash"
    with pytest.raises(ValidationError, match="'stratified' or 'hash'"):
        SplitConfig(method="random")


def test_pins_round_trip_through_the_manifest_only_for_the_same_bands(tmp_path):
    pinned = {2**64 - 1: 2, 5: 1}
    split = {"method": "hash", "seed": 3, "fractions": FRACTIONS}
    manifest = {"split": {**split, "pinned": pins_for_manifest(pinned)}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))

    assert manifest["split"]["pinned"] == {"0000000000000005": "val", "ffffffffffffffff": "test"}
    assert pins_in(path, fractions=FRACTIONS, seed=3) == pinned
    assert pins_in(path, fractions=FRACTIONS, seed=4) == {}
    other = {"train": 0.8, "val": 0.1, "test": 0.1}
    assert pins_in(path, fractions=other, seed=3) == {}
    assert (
        pins_of(
            {"split": {**manifest["split"], "method": "stratified"}}, fractions=FRACTIONS, seed=3
        )
        == {}
    )
    assert pins_in(tmp_path / "absent.json", fractions=FRACTIONS, seed=3) == {}


def test_an_unreadable_manifest_of_latest_is_an_error_naming_it(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("{not json")

    with pytest.raises(DataError, match=r"manifest\.json is not valid JSON"):
        pins_in(path, fractions=FRACTIONS, seed=0)


def test_a_csv_that_gains_rows_and_a_float_keeps_every_old_rows_split(tmp_path):
    old = loans_frame(400)
    new = loans_frame(40, seed=1).with_columns(
        ("N" + pl.col("loan_id")).alias("loan_id"),
        # One fractional amount: tonight the CSV reader types the column Float64, not Int64.
        pl.when(pl.int_range(pl.len()) == 0).then(12.5).otherwise(pl.col("amount")).alias("amount"),
    )
    source = write_config(tmp_path, "loans.csv", split={"method": "hash"})
    nights = []
    for night, frame in enumerate((old, pl.concat([old.cast({"amount": pl.Float64}), new]))):
        frame.write_csv(tmp_path / "loans.csv")
        run_dir = tmp_path / f"night{night}"
        run_dir.mkdir()
        pinned = nights[-1][2].pinned if nights else None
        nights.append(split_without_prefect(TABULAR, load_config(source), run_dir, pinned=pinned))

    (_, checked, first), (_, grown, second) = nights
    before = {
        loan: name for name, part in first.frames().items() for loan in part["loan_id"].to_list()
    }
    after = {
        loan: name for name, part in second.frames().items() for loan in part["loan_id"].to_list()
    }
    assert checked.frame.schema["amount"] == pl.Int64
    assert grown.frame.schema["amount"] == pl.Float64
    assert len(after) == 440
    assert {loan: after[loan] for loan in before} == before

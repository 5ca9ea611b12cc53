"""The shared conflict check: which synthetic samples repeat an original of another class."""

import polars as pl

from tasks.core.conflicts import (
    Conflicts,
    contradicting,
    labelled_identities,
    original_identities,
    split_identities,
    table_identity,
)
from tasks.core.frames import write_parquet


def _keys(*values):
    return pl.Series(values, dtype=pl.String)


def test_a_sample_contradicts_only_an_original_of_another_class():
    originals = labelled_identities(_keys("k1", "k2", "k3", "k3"), _keys("a", "b", "a", "b"))

    got = contradicting(
        _keys("k1", "k1", "k2", "k3", "k4"), _keys("a", "b", "a", "a", "b"), originals=originals
    )

    # k1/a is its own class; k1/b and k2/a meet the other class; k3 is both classes; k4 is new.
    assert got.to_list() == [False, True, True, True, False]


def test_the_relation_is_symmetric():
    synthetic = (_keys("k1", "k2", "k9"), _keys("b", "a", "a"))
    originals = (_keys("k1", "k2", "k3"), _keys("a", "a", "b"))

    one_way = contradicting(*synthetic, originals=labelled_identities(*originals))
    other_way = contradicting(*originals, originals=labelled_identities(*synthetic))

    assert one_way.to_list() == [True, False, False]
    assert other_way.to_list() == [True, False, False]


def test_table_identity_compares_values_not_encodings():
    strings = pl.DataFrame({"c": ["x", "y"], "v": [0.0, 1.5], "id": [1, 2]})
    categories = pl.DataFrame(
        {"c": pl.Series(["y", "x"], dtype=pl.Enum(["y", "x"])), "v": [1.5, -0.0], "id": [3, 4]}
    )

    one = table_identity(strings, ["c", "v"]).to_list()
    other = table_identity(categories, ["c", "v"]).to_list()

    assert one == other[::-1]  # the id column is not a feature: it does not count
    assert one[0] != one[1]


def test_split_identities_reads_the_holdout_files_and_skips_missing_ones(tmp_path):
    write_parquet(
        pl.DataFrame({"c": ["x", "y", "x"], "y": ["a", "b", "a"]}), tmp_path / "val.parquet"
    )

    def identify(frame):
        return table_identity(frame, ["c"])

    holdout = split_identities(tmp_path, identify=identify, label="y", batch_rows=1)
    train = pl.DataFrame({"c": ["z"], "y": ["a"]})
    everything = original_identities(train, holdout, identify=identify, label="y")

    assert holdout.height == 2  # (x, a) twice is one pair; no test.parquet here
    assert everything.height == 3
    assert split_identities(tmp_path / "none", identify=identify, label="y") is None


def test_counts_per_class_sum_to_the_totals():
    conflicts = Conflicts.counted("equal values", found={"b": 5, "c": 2, "a": 0}, dropped={"c": 2})

    entry = conflicts.as_manifest()

    assert (entry["found"], entry["replaced"], entry["dropped"]) == (7, 5, 2)
    assert entry["per_class"] == {
        "b": {"found": 5, "replaced": 5, "dropped": 0},
        "c": {"found": 2, "replaced": 0, "dropped": 2},
    }
    assert entry["identical"] == "equal values"
    assert Conflicts("x").as_manifest()["found"] == 0

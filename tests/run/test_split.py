import numpy as np
import polars as pl
import pytest

from rebalance.errors import DataError
from tasks.run.split import split_frame
from tests.helpers import numeric_frame

FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_splits_partition_the_rows_and_keep_input_order():
    frame = numeric_frame(400).with_row_index("row")

    result = split_frame(frame, label="y", fractions=FRACTIONS, seed=1)

    rows = [result.train["row"], result.val["row"], result.test["row"]]
    assert sorted(pl.concat(rows).to_list()) == list(range(400))
    assert all(part.is_sorted() for part in rows)


def test_each_class_is_split_by_the_fractions():
    frame = numeric_frame(1000)
    counts = frame["y"].value_counts().sort("y")["count"].to_list()

    result = split_frame(frame, label="y", fractions=FRACTIONS, seed=1)

    for name, fraction in FRACTIONS.items():
        got = result.frames()[name]["y"].value_counts().sort("y")["count"].to_list()
        assert [abs(g - c * fraction) <= 1 for g, c in zip(got, counts, strict=True)] == [True] * 3


def test_same_seed_same_split_other_seed_other_split():
    frame = numeric_frame(300).with_row_index("row")

    first = split_frame(frame, label="y", fractions=FRACTIONS, seed=3)
    again = split_frame(frame, label="y", fractions=FRACTIONS, seed=3)
    other = split_frame(frame, label="y", fractions=FRACTIONS, seed=4)

    assert first.train.equals(again.train) and first.test.equals(again.test)
    assert not first.train["row"].equals(other.train["row"])


def test_a_class_of_three_rows_lands_once_in_every_split():
    frame = pl.DataFrame({"x": range(23), "y": ["big"] * 20 + ["tiny"] * 3})

    result = split_frame(frame, label="y", fractions=FRACTIONS, seed=0)

    assert [(part["y"] == "tiny").sum() for part in result.frames().values()] == [1, 1, 1]


def test_groups_never_span_two_splits():
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"g": rng.integers(0, 60, 600), "y": rng.choice(["a", "b"], 600)})

    result = split_frame(frame, label="y", fractions=FRACTIONS, seed=0, group_keys=frame["g"])

    groups = [set(part["g"].to_list()) for part in result.frames().values()]
    assert groups[0].isdisjoint(groups[1]) and groups[0].isdisjoint(groups[2])
    assert groups[1].isdisjoint(groups[2])
    assert result.groups == 60


def test_duplicates_across_classes_stay_in_one_split():
    frame = pl.DataFrame(
        {"x": [5.0, 5.0, 5.0, *range(10, 40)], "y": ["a", "b", "a", *(["a", "b"] * 15)]}
    )

    result = split_frame(
        frame, label="y", fractions=FRACTIONS, seed=0, group_keys=frame.select("x").hash_rows()
    )

    holding = [name for name, part in result.frames().items() if (part["x"] == 5.0).any()]
    assert len(holding) == 1
    assert result.grouped_rows == 3


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["a"] * 10, "single class"),
        ([], "has no rows left to split"),
        (["a"] * 10 + ["b"] * 2, r"class 'b' \(2 rows\)"),
    ],
)
def test_too_few_classes_or_rows_name_the_class(labels, expected):
    frame = pl.DataFrame({"x": range(len(labels)), "y": labels})

    with pytest.raises(DataError, match=expected):
        split_frame(frame, label="y", fractions=FRACTIONS, seed=0)


def test_a_class_in_too_few_groups_is_named():
    frame = pl.DataFrame({"g": [*range(10), 99, 99, 99], "y": ["a"] * 10 + ["b"] * 3})

    with pytest.raises(DataError, match=r"class 'b' .* has no row in"):
        split_frame(frame, label="y", fractions=FRACTIONS, seed=0, group_keys=frame["g"])

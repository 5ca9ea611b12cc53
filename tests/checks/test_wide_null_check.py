"""The null check of wide tables: one Great Expectations expectation per column with nulls and
one for all the others, so its cost follows the table's size, not 50 ms per column.

300 rows × 5,000 columns once spent over 5 minutes in validation: GX builds and judges each
expectation in about 50 ms whatever the rows. These tests pin what must not change with the
grouping: the counts of every column, the failures caught, and what result.json shows.
"""

from __future__ import annotations

import json
import time

import numpy as np
import polars as pl
import pytest

from validations import null_check
from validations.null_check import (
    NULL_CHECK,
    check_nulls,
    check_nulls_in_batches,
    group_columns,
    preload_great_expectations,
)


def _nulls(frame: pl.DataFrame) -> dict[str, int]:
    """Nulls as GX counts them (NaN too), by polars."""
    schema = frame.schema
    missing = [
        (pl.col(name).is_null() | pl.col(name).is_nan()).sum()
        if schema[name].is_float()
        else pl.col(name).is_null().sum()
        for name in frame.columns
    ]
    return frame.select(missing).row(0, named=True)


def _wide(rows: int, width: int, *, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({f"f{i:04d}": rng.normal(size=rows) for i in range(width)})
    return frame.with_columns(pl.Series("label", [i % 2 for i in range(rows)]))


def _results(path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["results"]


def test_a_narrow_table_keeps_one_expectation_per_column():
    assert group_columns(["a", "b", "c"], {"b": 2}, limit=3) is None


def test_the_columns_with_most_nulls_get_their_own_and_the_rest_share_one():
    columns = [f"c{i}" for i in range(10)]

    grouped = group_columns(columns, {"c3": 2, "c7": 5, "c8": 1}, limit=2)

    # The two with the most nulls, in the table's order; c8's null goes to the shared one.
    assert grouped.one_by_one == ("c3", "c7")
    assert grouped.together == ("c0", "c1", "c2", "c4", "c5", "c6", "c8", "c9")
    assert grouped.name == "(any of the other 8 checked columns)"


def test_the_shared_column_never_takes_a_name_of_the_data():
    name = "(any of the other 3 checked columns)"

    grouped = group_columns(["a", "b", "c"], {}, limit=0, taken=["a", name, f"({name})"])

    assert grouped.name not in {"a", name, f"({name})"}
    assert grouped.name.endswith(name + "))")


@pytest.mark.slow
def test_a_2000_column_table_is_checked_in_a_few_expectations_with_every_count(tmp_path):
    preload_great_expectations()
    frame = _wide(50, 2_000).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("f0007")).alias("f0007"),
        pl.when(pl.int_range(pl.len()) < 2)
        .then(float("nan"))
        .otherwise(pl.col("f1500"))
        .alias("f1500"),
    )

    started = time.perf_counter()
    result = check_nulls(
        frame, columns=frame.columns, dataset="wide", output_dir=tmp_path, max_drop_fraction=0.1
    )
    seconds = time.perf_counter() - started

    assert result.null_counts == _nulls(frame)
    assert {name: n for name, n in result.null_counts.items() if n} == {"f0007": 1, "f1500": 2}
    items = [
        item
        for item in _results(result.result_path)
        if item["expectation_config"]["meta"]["added_by"] == NULL_CHECK
    ]
    by_column = {item["expectation_config"]["kwargs"]["column"]: item for item in items}
    shared = by_column.pop("(any of the other 1,999 checked columns)")
    assert sorted(by_column) == ["f0007", "f1500"]
    assert by_column["f1500"]["result"]["unexpected_count"] == 2
    assert shared["expectation_config"]["meta"]["columns"] == [
        name for name in frame.columns if name not in ("f0007", "f1500")
    ]
    assert shared["result"]["unexpected_count"] == 0
    assert result.success is True
    # One expectation per column took GX about 50 ms each: 100 s here.
    assert seconds < 20, f"the null check of 50 × 2,001 columns took {seconds:.1f} s"


@pytest.mark.slow
def test_nulls_beyond_the_limit_still_fail_and_are_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(null_check, "PER_COLUMN_LIMIT", 2)
    frame = pl.DataFrame(
        {
            "a": [1.0, None, 3.0, 4.0],
            "b": [None, None, 3.0, 4.0],
            "c": [1.0, 2.0, float("nan"), 4.0],
            "d": [1.0, 2.0, 3.0, 4.0],
            "label": [0, 1, 0, 1],
        }
    )

    result = check_nulls(frame, columns=frame.columns, dataset="some", output_dir=tmp_path)

    assert result.null_counts == {"a": 1, "b": 2, "c": 1, "d": 0, "label": 0}
    assert result.success is False
    (shared,) = [
        item
        for item in _results(result.result_path)
        if item["expectation_config"]["kwargs"]["column"].startswith("(any of")
    ]
    # b and a have the most nulls: c's NaN is caught by the shared expectation (row 3).
    assert shared["expectation_config"]["meta"]["columns"] == ["c", "d", "label"]
    assert shared["success"] is False
    assert shared["result"]["unexpected_count"] == 1


@pytest.mark.slow
def test_batches_of_a_wide_table_add_up_to_the_whole_tables_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(null_check, "PER_COLUMN_LIMIT", 1)
    frame = pl.DataFrame(
        {
            "a": [None, 2.0, 3.0, None, 5.0, 6.0],
            # Clean in the first batch, so it shares the expectation: its null comes later.
            "b": [1.0, 2.0, 3.0, 4.0, None, float("nan")],
            "label": [0, 1, 0, 1, 0, 1],
        }
    )

    result = check_nulls_in_batches(
        [frame[:3], frame[3:]], columns=frame.columns, dataset="some", output_dir=tmp_path
    )

    assert result.null_counts == {"a": 2, "b": 2, "label": 0}
    (shared,) = [
        item
        for item in _results(result.result_path)
        if item["expectation_config"]["kwargs"]["column"].startswith("(any of")
    ]
    assert shared["result"]["unexpected_count"] == 2
    assert shared["result"]["element_count"] == 6
    assert result.success is False

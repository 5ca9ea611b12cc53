"""The limit on `null_policy: drop`: judged on the rows read, in memory, streamed, for images
and texts; and a drop that empties a class is named as the cause."""

import json

import polars as pl
import pytest

from rebalance.errors import DataError, ValidationFailed
from tasks.core.columns import Columns
from tasks.text.ingest import read_texts
from tests.helpers import table_validations
from validations.drops import NullDrop, check_drop_fraction
from validations.images import validate_images
from validations.tabular import validate_table
from validations.text import validate_texts

COLUMNS = Columns(label="label", features=("notes", "x", "y"))


def _table(*, notes_null: int, x_null: int = 0, rows: int = 100, label=None) -> pl.DataFrame:
    """`notes` null in its first `notes_null` rows, `x` in the `x_null` rows after those (so
    the drops add up), `y` never; labels alternate unless given."""
    index = range(rows)
    return pl.DataFrame(
        {
            "notes": [None if i < notes_null else f"n{i}" for i in index],
            "x": [float("nan") if notes_null <= i < notes_null + x_null else i / 2 for i in index],
            "y": index,
            "label": label if label is not None else ["a" if i % 2 else "b" for i in index],
        }
    )


VALIDATE = table_validations(COLUMNS)


def _in_memory(frame, tmp_path, **options):
    return validate_table(
        frame, columns=COLUMNS, null_policy="drop", dataset="t", output_dir=tmp_path, **options
    )


@VALIDATE
def test_a_column_null_in_most_rows_stops_the_drop_naming_it_and_the_limit(tmp_path, validate):
    frame = _table(notes_null=92, x_null=3)

    with pytest.raises(ValidationFailed) as caught:
        validate(frame, tmp_path, max_drop_fraction=0.2)

    assert str(caught.value) == (
        "validation.null_policy: drop would remove 95.0% of the rows read (95 of 100), more "
        "than validation.max_drop_fraction 0.2 allows, mostly for nulls in 'notes' (92), "
        "'x' (3): fill those nulls, or leave the column out of `features`, or raise "
        "validation.max_drop_fraction (at most 1) to accept the loss"
    )


@VALIDATE
@pytest.mark.parametrize(("dropped", "passes"), [(20, True), (21, False)])
def test_a_drop_of_exactly_the_limit_passes_and_one_row_more_fails(
    tmp_path, validate, dropped, passes
):
    frame = _table(notes_null=dropped)

    if not passes:
        with pytest.raises(ValidationFailed, match=r"21\.0% of the rows read \(21 of 100\)"):
            validate(frame, tmp_path, max_drop_fraction=0.2)
        return
    checked = validate(frame, tmp_path, max_drop_fraction=0.2)

    assert checked.rows_dropped == checked.rows_dropped_for_nulls == 20
    assert checked.null_counts == {"notes": 20, "x": 0, "y": 0, "label": 0}
    assert checked.class_counts == {"a": 40, "b": 40}


def test_a_drop_above_the_default_passes_once_the_limit_is_raised(tmp_path):
    checked = _in_memory(_table(notes_null=60, x_null=10), tmp_path, max_drop_fraction=0.7)

    assert checked.rows_dropped_for_nulls == 70
    assert checked.class_counts == {"a": 15, "b": 15}


@pytest.mark.parametrize(
    ("dropped", "read", "limit", "passes"),
    [
        (3, 10, 0.3, True),
        (7, 10, 0.7, True),
        (1, 3, 0.33, False),
        (2, 3, 0.67, True),
        (10, 10, 1.0, True),
        (1, 1_000_000, 1e-6, True),
        (2, 1_000_000, 1e-6, False),
    ],
)
def test_the_limit_compares_the_share_exactly(dropped, read, limit, passes):
    drop = NullDrop(read, dropped, {"c": dropped}, fix="fill them")

    if passes:
        check_drop_fraction(drop, max_fraction=limit)
    else:
        with pytest.raises(ValidationFailed):
            check_drop_fraction(drop, max_fraction=limit)


def test_the_message_names_the_five_emptiest_columns_most_first():
    counts = {"a": 1, "b": 9, "c": 4, "d": 0, "e": 9, "f": 2, "g": 3, "h": 5}

    drop = NullDrop(100, 30, counts, fix="fill them")

    assert drop.columns() == "'b' (9), 'e' (9), 'h' (5), 'c' (4), 'g' (3) and 2 more"


@VALIDATE
def test_a_drop_that_empties_a_class_is_named_as_its_cause(tmp_path, validate):
    # 10% of the rows, all of class 'b': within the limit, but 'b' is gone.
    labels = ["b" if i < 10 else "a" for i in range(100)]
    frame = _table(notes_null=10, label=labels)

    with pytest.raises(DataError) as caught:
        validate(frame, tmp_path, max_drop_fraction=0.2)

    assert str(caught.value) == (
        "validation.null_policy: drop removed 10 of the 100 rows read (10.0%) for nulls in "
        "'notes' (10), which left label 'label' a single class ('a') by emptying 'b' (10 rows "
        "read): fill those nulls, or leave the column out of `features`"
    )


def test_a_drop_that_leaves_a_class_too_small_or_empties_one_of_three_is_named(tmp_path):
    labels = ["b"] * 8 + ["c"] * 5 + ["a"] * 87
    frame = _table(notes_null=8, x_null=3, label=labels)  # every 'b', three of 'c'

    with pytest.raises(DataError) as caught:
        _in_memory(frame, tmp_path, max_drop_fraction=0.2)

    assert str(caught.value).startswith(
        "validation.null_policy: drop removed 11 of the 100 rows read (11.0%) for nulls in "
        "'notes' (8), 'x' (3), which left class 'b' (0 of 8 rows read left), 'c' (2 of 5 rows "
        "read left) of label 'label' too small to appear in train, val and test"
    )


def test_a_class_too_small_before_the_drop_is_not_blamed_on_it(tmp_path):
    labels = ["b", "b"] + ["a"] * 98
    frame = _table(notes_null=1, label=labels)

    with pytest.raises(DataError) as caught:
        _in_memory(frame, tmp_path, max_drop_fraction=0.2)

    assert str(caught.value).startswith("class 'b' (1 rows) of label 'label' is too small")
    assert "null_policy" not in str(caught.value)


def test_null_labels_in_an_image_index_stop_the_drop_before_any_file_is_decoded(tmp_path):
    # No image exists: the limit fails first, before decoding would find them missing.
    index = pl.DataFrame(
        {
            "path": [f"{i}.png" for i in range(10)],
            "label": [None, None, None, "a", "b", "a", "b", "a", "b", "a"],
            "sha256": [str(i) for i in range(10)],
        }
    )

    with pytest.raises(ValidationFailed) as caught:
        validate_images(
            index,
            root=tmp_path,
            label="label",
            path_column="path",
            hash_column="sha256",
            null_policy="drop",
            bad_files="fail",
            max_pixels=100,
            dataset="t",
            output_dir=tmp_path / "validation",
            max_drop_fraction=0.25,
        )

    assert "30.0% of the rows read (3 of 10)" in str(caught.value)
    assert "max_drop_fraction 0.25" in str(caught.value)
    assert "'label' (3): fill in those paths and labels in the index" in str(caught.value)


def test_null_texts_count_against_the_limit_and_bad_texts_do_not(tmp_path):
    path = tmp_path / "texts.jsonl"
    rows = [{"text": f"order {i} is late", "label": "ab"[i % 2]} for i in range(16)]
    rows += [{"text": None, "label": "a"}] * 3 + [{"text": "   ", "label": "b"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    frame, columns, _ = read_texts(path, text_column="text", label="label", id_column=None)
    options = {
        "columns": columns,
        "null_policy": "drop",
        "bad_text_policy": "drop",
        "dataset": "t",
        "source": path,
        "output_dir": tmp_path / "validation",
    }

    checked = validate_texts(frame, max_drop_fraction=0.15, **options)
    with pytest.raises(ValidationFailed, match=r"15\.0% of the rows read \(3 of 20\).*'text'"):
        validate_texts(frame, max_drop_fraction=0.1, **options)

    assert (checked.rows_dropped, checked.rows_dropped_for_nulls) == (4, 3)

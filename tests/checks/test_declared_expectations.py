"""The config's expectations in each modality's validation: `fail` stops it before the split,
naming the expectation, the column and what GX observed; `warn` is reported and the run goes
on. A streamed table gives what the whole table gives."""

import json

import polars as pl
import pytest

from rebalance.errors import ValidationFailed
from tasks.core.columns import Columns
from tasks.text.ingest import read_texts
from tests.helpers import Entry, table_validations
from validations.images import validate_images
from validations.text import validate_texts

pytestmark = pytest.mark.slow  # Great Expectations runs (its import takes seconds)

COLUMNS = Columns(label="label", features=("notes", "y"))
# y is 0..99: 9 values above 90, all in the second batch of 50 rows.
AT_MOST_90 = {"column": "y", "max_value": 90}
OBSERVED = "9 unexpected of 100 non-null values (9.00%), e.g. 91, 92, 93, 94, 95"


def _table() -> pl.DataFrame:
    index = range(100)
    return pl.DataFrame(
        {
            "notes": [None if i < 10 else f"n{i}" for i in index],
            "y": list(index),
            "label": ["a" if i % 2 else "b" for i in index],
        }
    )


VALIDATE = table_validations(COLUMNS)


@VALIDATE
def test_a_fail_expectation_not_met_stops_validation_naming_what_gx_observed(validate, tmp_path):
    entry = Entry("ExpectColumnValuesToBeBetween", AT_MOST_90)

    with pytest.raises(ValidationFailed) as caught:
        validate(_table(), tmp_path, expectations=[entry])

    assert str(caught.value).startswith(
        "1 expectation(s) of severity fail not met by 't': ExpectColumnValuesToBeBetween on "
        f"column 'y' found {OBSERVED}; "
    )


@VALIDATE
def test_a_warn_expectation_is_reported_and_the_drop_policy_passes_its_nulls(validate, tmp_path):
    entries = [
        Entry("ExpectColumnValuesToBeBetween", AT_MOST_90, "warn"),
        Entry("ExpectColumnValuesToBeInSet", {"column": "label", "value_set": ["a", "b"]}),
    ]

    checked = validate(_table(), tmp_path, expectations=entries)

    assert [(e["expectation"], e["status"], e["observed"]) for e in checked.expectations] == [
        ("ExpectColumnValuesToBeBetween", "warning", OBSERVED),
        ("ExpectColumnValuesToBeInSet", "passed", "0 unexpected of 100 non-null values (0.00%)"),
    ]
    assert checked.rows_dropped == 10
    result = json.loads(next(tmp_path.glob("*/result.json")).read_text())
    nulls = [
        item
        for item in result["results"]
        if item["expectation_config"]["meta"]["added_by"] == "null_check"
    ]
    # 10 nulls in `notes` within max_drop_fraction 0.2: found as read, and passed.
    assert {item["expectation_config"]["kwargs"]["column"]: item["success"] for item in nulls} == {
        "notes": True,
        "y": True,
        "label": True,
    }
    assert [i["result"]["unexpected_count"] for i in nulls if i["result"]["unexpected_count"]] == [
        10
    ]


def test_an_image_index_takes_column_expectations(tmp_path):
    index = pl.DataFrame(
        {
            "path": ["a/1.png", "a/2.png", "b/3.jpg"],
            "label": ["a", "a", "b"],
            "sha256": ["1", "2", "3"],
        }
    )

    with pytest.raises(ValidationFailed, match=r"ExpectColumnValuesToMatchRegex on column 'path'"):
        validate_images(
            index,
            root=tmp_path,
            label="label",
            path_column="path",
            hash_column="sha256",
            null_policy="fail",
            bad_files="fail",
            max_pixels=100,
            dataset="t",
            output_dir=tmp_path / "validation",
            expectations=[
                Entry("ExpectColumnValuesToMatchRegex", {"column": "path", "regex": "png$"})
            ],
        )


def test_a_text_frame_takes_column_expectations(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [{"text": "short", "label": "a"}, {"text": "a much longer text", "label": "b"}] * 3
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    frame, columns, _ = read_texts(path, text_column="text", label="label", id_column=None)

    checked = validate_texts(
        frame,
        columns=columns,
        null_policy="fail",
        bad_text_policy="fail",
        dataset="t",
        source=path,
        output_dir=tmp_path / "validation",
        expectations=[
            Entry(
                "ExpectColumnValueLengthsToBeBetween", {"column": "text", "min_value": 10}, "warn"
            )
        ],
    )

    (found,) = checked.expectations
    assert found["status"] == "warning"
    assert found["observed"].startswith("3 unexpected of 6 non-null values (50.00%), e.g. 'short'")

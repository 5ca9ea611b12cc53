"""Tests for validations.null_check.

Importing Great Expectations takes several seconds, so the checks that run it share two runs
made once per module (`runs`); the input errors are raised before GX is imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from rebalance.errors import ConfigError, DataError
from tests.helpers import Entry
from validations.null_check import NullCheckResult, check_nulls, check_nulls_in_batches


@dataclass(frozen=True)
class Runs:
    clean: NullCheckResult
    dirty: NullCheckResult
    base: Path
    cwd: Path
    current_context_before: object
    current_context_after: object


def _clean_frame() -> pl.DataFrame:
    # "notes" is full of nulls but not requested, so it must not fail the check.
    return pl.DataFrame(
        {
            "feature": [0.1, 0.2, 0.3],
            "label": ["a", "b", "a"],
            "notes": pl.Series([None, None, None], dtype=pl.String),
        }
    )


def _dirty_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "count": pl.Series([1, None, 3, None], dtype=pl.Int64),
            "score": [0.5, float("nan"), 1.5, 2.0],
            "label": ["a", "b", "a", "b"],
        }
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager

    base = tmp_path_factory.mktemp("null_check")
    cwd = base / "cwd"
    cwd.mkdir()
    before = gx.get_context(mode="ephemeral")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(cwd)
        clean = check_nulls(
            _clean_frame(), columns=["feature", "label"], dataset="clean", output_dir=base / "clean"
        )
        dirty = check_nulls(
            _dirty_frame(),
            columns=["count", "score", "label"],
            dataset="dirty",
            output_dir=base / "dirty",
        )
    return Runs(clean, dirty, base, cwd, before, project_manager.get_current_project())


@pytest.mark.slow
def test_clean_frame_passes_with_zero_counts(runs: Runs) -> None:
    assert runs.clean.success is True
    assert runs.clean.null_counts == {"feature": 0, "label": 0}


@pytest.mark.slow
def test_clean_frame_writes_result_json_only(runs: Runs) -> None:
    result = json.loads(runs.clean.result_path.read_text(encoding="utf-8"))

    assert runs.clean.result_path == runs.base / "clean" / "result.json"
    # The Data Docs site is the dataset's (validations.data_docs), not the run's.
    assert [path.name for path in (runs.base / "clean").iterdir()] == ["result.json"]
    assert result["success"] is True
    assert result["suite_name"] == "clean"
    checked = [r["expectation_config"]["kwargs"]["column"] for r in result["results"]]
    assert sorted(checked) == ["feature", "label"]
    types = {r["expectation_config"]["type"] for r in result["results"]}
    assert types == {"expect_column_values_to_not_be_null"}


@pytest.mark.slow
def test_nulls_and_float_nan_fail_with_exact_counts(runs: Runs) -> None:
    # polars does not count NaN as null; the pandas side of GX does.
    assert _dirty_frame()["score"].null_count() == 0

    assert runs.dirty.success is False
    assert runs.dirty.null_counts == {"count": 2, "score": 1, "label": 0}


@pytest.mark.slow
def test_null_counts_match_result_json(runs: Runs) -> None:
    result = json.loads(runs.dirty.result_path.read_text(encoding="utf-8"))

    counts = {
        r["expectation_config"]["kwargs"]["column"]: r["result"]["unexpected_count"]
        for r in result["results"]
    }
    assert result["success"] is False
    assert counts == runs.dirty.null_counts


@pytest.mark.slow
def test_only_requested_columns_are_checked(runs: Runs) -> None:
    assert _clean_frame()["notes"].null_count() == 3

    assert "notes" not in runs.clean.null_counts
    assert runs.clean.success is True


@pytest.mark.slow
def test_nothing_is_written_outside_output_dir(runs: Runs) -> None:
    written = {path.relative_to(runs.base).parts[0] for path in runs.base.rglob("*")}

    assert list(runs.cwd.iterdir()) == []
    assert written == {"cwd", "clean", "dirty"}
    assert not list(runs.base.rglob("great_expectations.yml"))
    assert not list(runs.base.rglob("gx"))


@pytest.mark.slow
def test_current_gx_context_is_restored(runs: Runs) -> None:
    assert runs.current_context_after is runs.current_context_before


@pytest.mark.parametrize(
    ("columns", "dataset", "error", "culprit"),
    [
        ([], "toy", ConfigError, r"got \[\]"),
        ("label", "toy", ConfigError, "got 'label'"),
        (["label", "missing"], "toy", DataError, r"\['missing'\]"),
        (["label"], "../toy", ConfigError, r"'\.\./toy'"),
        (["label"], "", ConfigError, "dataset ''"),
    ],
)
def test_bad_input_raises_before_writing(
    tmp_path: Path, columns: list[str] | str, dataset: str, error: type[Exception], culprit: str
) -> None:
    output_dir = tmp_path / "out"

    with pytest.raises(error, match=culprit):
        check_nulls(_clean_frame(), columns=columns, dataset=dataset, output_dir=output_dir)

    assert not output_dir.exists()


def test_unwritable_output_dir_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")

    with pytest.raises(OSError):
        check_nulls(_clean_frame(), columns=["label"], dataset="toy", output_dir=blocker / "out")


def _ages() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "age": pl.Series([30, -1, None, 45, -7, 51, 60, 22, 19, 70], dtype=pl.Int64),
            "label": ["a", "b"] * 5,
        }
    )


@pytest.mark.slow
def test_declared_expectations_run_in_the_null_checks_suite_with_their_outcomes(tmp_path):
    entries = [
        Entry("ExpectColumnValuesToBeBetween", {"column": "age", "min_value": 0}, "warn"),
        Entry("ExpectTableRowCountToBeBetween", {"min_value": 20}),
        Entry("ExpectColumnDistinctValuesToBeInSet", {"column": "label", "value_set": ["a", "b"]}),
        Entry("ExpectColumnValuesToBeInSet", {"column": "nope", "value_set": [1]}, "warn"),
    ]

    result = check_nulls(
        _ages(), columns=["label"], dataset="ages", output_dir=tmp_path, expectations=entries
    )

    found = [(o.expectation, o.status, o.observed) for o in result.outcomes]
    assert found[:3] == [
        (
            "ExpectColumnValuesToBeBetween",
            "warning",
            # pandas holds an integer column with a null as floats.
            "2 unexpected of 9 non-null values (22.22%), e.g. -1.0, -7.0",
        ),
        ("ExpectTableRowCountToBeBetween", "failed", "observed value 10"),
        ("ExpectColumnDistinctValuesToBeInSet", "passed", found[2][2]),
    ]
    # A column the data does not have is GX's to report, as that expectation's error.
    assert found[3][1] == "warning"
    assert found[3][2] == 'an error: The column "nope" in BatchData does not exist.'
    # `age` was converted for its expectation, not null-checked.
    assert result.null_counts == {"label": 0}
    written = json.loads(result.result_path.read_text())
    severities = {
        item["expectation_config"]["type"]: item["expectation_config"]["severity"]
        for item in written["results"]
    }
    assert severities["expect_column_values_to_be_between"] == "warning"
    assert severities["expect_table_row_count_to_be_between"] == "critical"


@pytest.mark.slow
@pytest.mark.parametrize(("max_drop_fraction", "passes"), [(0.1, True), (0.09, False)])
def test_under_a_drop_policy_the_null_check_passes_up_to_the_share_it_may_drop(
    tmp_path, max_drop_fraction, passes
):
    # One null in 10 rows: exactly 10% may go.
    result = check_nulls(
        _ages(),
        columns=["age", "label"],
        dataset="ages",
        output_dir=tmp_path,
        max_drop_fraction=max_drop_fraction,
    )

    written = json.loads(result.result_path.read_text())
    (age,) = [r for r in written["results"] if r["expectation_config"]["kwargs"]["column"] == "age"]
    assert result.null_counts == {"age": 1, "label": 0}
    assert age["success"] is passes
    assert age["result"]["unexpected_count"] == 1
    assert age["expectation_config"]["kwargs"]["mostly"] == pytest.approx(1 - max_drop_fraction)
    assert "null_policy: drop" in age["expectation_config"]["notes"]


@pytest.mark.slow
def test_batches_add_up_to_what_the_whole_frame_gives(tmp_path):
    frame = _ages()
    entries = [
        # Batch 1 (rows 0-4) has 2 of 4 below zero: 50% there, 75% overall >= mostly 0.7.
        Entry("ExpectColumnValuesToBeBetween", {"column": "age", "min_value": 0, "mostly": 0.7}),
        Entry("ExpectColumnValuesToBeUnique", {"column": "label"}, "warn"),
    ]

    whole = check_nulls(
        frame, columns=["label"], dataset="d", output_dir=tmp_path / "w", expectations=entries
    )
    batched = check_nulls_in_batches(
        frame.iter_slices(5),
        columns=["label"],
        dataset="d",
        output_dir=tmp_path / "b",
        expectations=entries,
    )

    assert [o.status for o in whole.outcomes] == ["passed", "warning"]
    assert [o.status for o in batched.outcomes] == ["passed", "warning"]
    assert batched.outcomes[0].observed == whole.outcomes[0].observed
    assert json.loads(batched.result_path.read_text())["meta"]["batches"] == 2


def test_kwargs_gx_refuses_at_build_time_are_a_config_error_naming_the_entry(tmp_path):
    # Each kwarg is valid alone; GX's validator relates them (a bound is needed).
    entry = Entry("ExpectColumnValuesToBeBetween", {"column": "age"})

    with pytest.raises(
        ConfigError, match=r"Great Expectations refuses ExpectColumnValuesToBeBetween"
    ):
        check_nulls(
            _ages(), columns=["label"], dataset="d", output_dir=tmp_path, expectations=[entry]
        )

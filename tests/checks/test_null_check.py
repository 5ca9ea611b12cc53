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
from validations.null_check import NullCheckResult, check_nulls


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
def test_clean_frame_writes_result_json_and_data_docs(runs: Runs) -> None:
    result = json.loads(runs.clean.result_path.read_text(encoding="utf-8"))

    assert runs.clean.result_path == runs.base / "clean" / "result.json"
    assert runs.clean.data_docs_index == runs.base / "clean" / "data_docs" / "index.html"
    assert runs.clean.data_docs_index.is_file()
    assert result["success"] is True
    assert result["suite_name"] == "clean.nulls"
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

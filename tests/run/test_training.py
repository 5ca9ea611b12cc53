"""The example training job's logic on a tiny run folder built in code (no Prefect)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from rebalance.errors import DataError
from tasks.run.classifiers import METRICS
from tasks.run.manifest import file_hashes, read_manifest
from tasks.run.training import (
    check_outputs,
    compare_models,
    cv_estimates,
    render_scores,
    score_rows,
)
from tests.evaluation_helpers import evaluation_with


def _run_folder(folder: Path) -> Path:
    """98 `no` in x ∈ [0, 0.98] and 2 `yes` at x = 1.2, plus 96 synthetic `yes` at 1.2.

    Trained on the originals, the classifier never predicts `yes`; on the rebalanced rows
    its threshold sits between the classes, so the test split is classified perfectly.
    """
    original = pl.DataFrame(
        {
            "id": [f"r{index}" for index in range(100)],
            "x": [index / 100 for index in range(98)] + [1.2, 1.2],
            "colour": ["red", "blue"] * 50,
            "y": ["no"] * 98 + ["yes"] * 2,
            "is_synthetic": [False] * 100,
        }
    )
    synthetic = pl.DataFrame(
        {
            "id": [None] * 96,
            "x": [1.2] * 96,
            "colour": ["red"] * 96,
            "y": ["yes"] * 96,
            "is_synthetic": [True] * 96,
        },
        schema=original.schema,
    )
    pl.concat([original, synthetic]).write_parquet(folder / "train.parquet")
    holdout = pl.DataFrame(
        {
            "id": ["t0", "t1", "t2", "t3", "t4"],
            "x": [0.0, 0.25, 0.5, 1.1, 1.2],
            "colour": ["red", "blue", "green", "red", "blue"],
            "y": ["no", "no", "no", "yes", "yes"],
        }
    )
    holdout.write_parquet(folder / "test.parquet")
    holdout.head(3).write_parquet(folder / "val.parquet")
    manifest = {
        "name": "tiny",
        "modality": "tabular",
        "run_id": "r1",
        "columns": {
            "label": "y",
            "id_column": "id",
            "features": ["x", "colour"],
            "categorical": ["colour"],
        },
        "class_weights": {"balanced": {"weights": {"no": 100 / (2 * 98), "yes": 100 / (2 * 2)}}},
        "files": file_hashes(folder),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _scores(comparison):
    return {(item.arm, item.model): item for item in comparison.scores}


def test_each_arm_and_model_on_the_untouched_test_split(tmp_path):
    folder = _run_folder(tmp_path)
    manifest = read_manifest(folder / "manifest.json")

    comparison = compare_models(folder, manifest)

    assert (comparison.minority, comparison.test_rows) == ("yes", 5)
    assert [(item.model, item.arm, item.train_rows) for item in comparison.scores] == [
        (model, arm, rows)
        for model in ("logistic_regression", "gradient_boosting")
        for arm, rows in (("no resampling", 100), ("class weights", 100), ("as published", 196))
    ]
    for model in ("logistic_regression", "gradient_boosting"):
        scores = _scores(comparison)
        # The originals alone never predict `yes`, yet rank both `yes` rows first: balanced
        # accuracy moves, average precision does not.
        assert scores["no resampling", model].metrics == {
            "balanced_accuracy": 0.5,
            "average_precision": 1.0,
            "minority_recall": 0.0,
            "macro_f1": pytest.approx((0.75 + 0.0) / 2),
        }
        for arm in ("class weights", "as published"):
            assert scores[arm, model].metrics == dict.fromkeys(METRICS, 1.0)


def test_without_class_weights_two_arms_per_model(tmp_path):
    folder = _run_folder(tmp_path)

    comparison = compare_models(
        folder, read_manifest(folder / "manifest.json"), use_class_weights=False
    )

    assert {item.arm for item in comparison.scores} == {"no resampling", "as published"}
    assert len(comparison.scores) == 4


def _with_evaluation(manifest: dict, *, sampler: str | None) -> dict:
    """The manifest with an evaluation of three arms whose scores tell them apart."""
    scores = {"no resampling": (0.61, 0.05), "class weights": (0.72, 0.04)}
    if sampler:
        scores[sampler] = (0.83, 0.03)
    entry = evaluation_with(scores, n_splits=5, repeats_run=3).as_manifest()
    entry["published_arm"] = sampler or "no resampling"
    rebalance = {"requested": sampler or "none", "sampler": sampler, "params": {}}
    return {**manifest, "rebalance": rebalance, "evaluation": json.loads(json.dumps(entry))}


def test_the_test_scores_sit_beside_the_cv_estimate_of_the_same_arm(tmp_path):
    folder = _run_folder(tmp_path)
    manifest = _with_evaluation(read_manifest(folder / "manifest.json"), sampler="SMOTE")

    table = render_scores("tiny", compare_models(folder, manifest), manifest)

    assert table.count("| arm | scored on | train rows | balanced accuracy |") == 2
    assert "mean ± std over 15 folds" in table
    assert "with the rows `SMOTE` made" in table
    lines = table.splitlines()
    for arm, estimate in (
        ("no resampling", "0.610 ± 0.050"),
        ("class weights", "0.720 ± 0.040"),
        ("as published", "0.830 ± 0.030"),  # the evaluation's SMOTE arm
    ):
        test_row = next(index for index, line in enumerate(lines) if line.startswith(f"| {arm} |"))
        assert lines[test_row + 1] == "|  | CV estimate |  | " + " | ".join([estimate] * 4) + " |"
    assert "| no resampling | test split | 100 | 0.500 | 1.000 | 0.000 | 0.375 |" in table


def test_a_run_without_a_sampler_published_its_originals_and_their_estimate(tmp_path):
    folder = _run_folder(tmp_path)
    manifest = _with_evaluation(read_manifest(folder / "manifest.json"), sampler=None)

    estimates = cv_estimates(manifest)

    assert (
        estimates["as published", "gradient_boosting"]
        == estimates["no resampling", "gradient_boosting"]
    )
    assert estimates["as published", "logistic_regression"]["macro_f1"] == "0.610 ± 0.050"


def test_score_rows_carry_the_cv_estimate_only_where_there_is_one(tmp_path):
    folder = _run_folder(tmp_path)
    manifest = read_manifest(folder / "manifest.json")
    comparison = compare_models(folder, manifest)

    plain = score_rows(comparison, manifest)
    estimated = score_rows(comparison, _with_evaluation(manifest, sampler="SMOTE"))

    assert plain[0] == {
        "model": "logistic_regression",
        "arm": "no resampling",
        "train_rows": 100,
        "balanced_accuracy": 0.5,
        "average_precision": 1.0,
        "minority_recall": 0.0,
        "macro_f1": 0.375,
    }
    assert estimated[2]["cv_balanced_accuracy"] == "0.830 ± 0.030"
    other = _with_evaluation(manifest, sampler="SMOTE")
    other["evaluation"] = {**other["evaluation"], "published_arm": "ADASYN"}
    unmatched = score_rows(comparison, other)
    assert unmatched[2]["arm"] == "as published"
    assert unmatched[2]["cv_macro_f1"] is None  # no ADASYN arm in the evaluation
    assert unmatched[1]["cv_macro_f1"] == "0.720 ± 0.040"
    assert render_scores("tiny", comparison, manifest).count("CV estimate") == 0


def test_check_outputs_counts_rows_and_classes_per_split(tmp_path):
    folder = _run_folder(tmp_path)

    checked = check_outputs(folder, read_manifest(folder / "manifest.json"))

    assert checked["files_checked"] == 3
    assert checked["splits"] == {
        "train": {"rows": 196, "classes": {"no": 98, "yes": 98}},
        "val": {"rows": 3, "classes": {"no": 3}},
        "test": {"rows": 5, "classes": {"no": 3, "yes": 2}},
    }


def test_check_outputs_names_a_changed_file(tmp_path):
    folder = _run_folder(tmp_path)
    manifest = read_manifest(folder / "manifest.json")
    pl.DataFrame({"y": ["no"]}).write_parquet(folder / "val.parquet")

    with pytest.raises(DataError, match=r"val\.parquet changed since the run wrote it"):
        check_outputs(folder, manifest)


def test_read_manifest_names_a_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"manifest\.json not found; pass the folder of a"):
        read_manifest(tmp_path / "manifest.json")

"""The example training job's logic on a tiny run folder built in code (no Prefect)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from rebalance.errors import DataError
from tasks.run.manifest import file_hashes, read_manifest
from tasks.run.training import check_outputs, compare_models, render_scores


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


def test_rebalanced_rows_beat_the_originals_on_the_untouched_test_split(tmp_path):
    folder = _run_folder(tmp_path)
    manifest = read_manifest(folder / "manifest.json")

    original, rebalanced, weighted = compare_models(folder, manifest, use_class_weights=True)

    assert (original.model, original.train_rows) == ("original", 100)
    assert original.recall == {"no": 1.0, "yes": 0.0}
    assert original.balanced_accuracy == 0.5
    assert original.macro_f1 == pytest.approx((0.75 + 0.0) / 2)
    assert (rebalanced.model, rebalanced.train_rows) == ("rebalanced", 196)
    assert rebalanced.recall == {"no": 1.0, "yes": 1.0}
    assert rebalanced.balanced_accuracy == rebalanced.macro_f1 == 1.0
    assert (weighted.model, weighted.train_rows) == ("original + class weights", 100)
    assert weighted.recall == {"no": 1.0, "yes": 1.0}


def test_scores_render_as_one_row_per_model(tmp_path):
    folder = _run_folder(tmp_path)
    scores = compare_models(folder, read_manifest(folder / "manifest.json"))

    table = render_scores("tiny", scores)

    assert "| model | train rows | balanced accuracy | macro F1 | recall no | recall yes |" in table
    assert "| original | 100 | 0.500 | 0.375 | 1.000 | 0.000 |" in table
    assert "| rebalanced | 196 | 1.000 | 1.000 | 1.000 | 1.000 |" in table


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

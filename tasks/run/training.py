"""What a training job downstream of a run does: plain functions, no Prefect.

For tables, `compare_models` fits both example models (`tasks.run.classifiers`) the ways the
run's cross-validated evaluation compared them: on the original training rows, on the same
rows with class weights, and on `train.parquet` as published; each is scored on the
untouched `test.parquet`, beside the run's estimate for that arm when the manifest has one.
For other modalities, `check_outputs` proves the outputs load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance.errors import DataError
from tasks.core.columns import SYNTHETIC
from tasks.core.files import file_sha256
from tasks.core.markdown import render
from tasks.run.classifiers import (
    METRICS,
    MODEL_TITLES,
    MODELS,
    make_model,
    minority_class,
    score,
    single_threaded,
)

SPLIT_FILES = ("train", "val", "test")
# The arms' names, as the run's evaluation (`tasks.tabular.evaluation`) names the first two.
NO_RESAMPLING = "no resampling"
CLASS_WEIGHTS = "class weights"
PUBLISHED = "as published"
TEMPLATE = Path(__file__).with_name("templates") / "training.md.j2"
MISSING = "—"


@dataclass(frozen=True)
class Score:
    """One arm with one model, scored on the test split."""

    arm: str
    model: str
    train_rows: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Comparison:
    """Every arm with every model on the test split, and what the scores refer to."""

    scores: tuple[Score, ...]
    minority: str
    test_rows: int


def check_outputs(run_folder: Path | str, manifest: dict[str, Any], /) -> dict[str, Any]:
    """Every file the manifest lists exists with its sha256; every split loads.

    Returns:
        `files_checked` and, per split, `rows` and `classes` (label → count).

    Raises:
        DataError: a listed file is missing or changed since the run.
    """
    folder = Path(run_folder)
    real_folder = folder.resolve()
    for relative, expected in manifest.get("files", {}).items():
        path = folder / relative
        if Path(relative).is_absolute() or not path.resolve().is_relative_to(real_folder):
            # A manifest only ever lists files of its own run: this one was edited.
            msg = (
                f"manifest of {folder} lists {relative!r}, outside the run folder; it was "
                "edited by hand: rerun the rebalance flow"
            )
            raise DataError(msg)
        if not path.is_file():
            msg = f"{path} is listed in the manifest but missing; rerun the rebalance flow"
            raise DataError(msg)
        if file_sha256(path) != expected:
            msg = f"{path} changed since the run wrote it (sha256 differs); rerun the flow"
            raise DataError(msg)
    label = manifest.get("columns", {}).get("label")
    splits: dict[str, Any] = {}
    for split in SPLIT_FILES:
        frame = pl.read_parquet(folder / f"{split}.parquet")
        classes = _class_counts(frame[label]) if label in frame.columns else {}
        splits[split] = {"rows": frame.height, "classes": classes}
    return {"files_checked": len(manifest.get("files", {})), "splits": splits}


def compare_models(
    run_folder: Path | str,
    manifest: Mapping[str, Any],
    /,
    *,
    use_class_weights: bool = True,
    seed: int = 0,
) -> Comparison:
    """Fit both example models each way the run's evaluation compared; score on test.

    The arms: `no resampling` (the original training rows, `is_synthetic` false), `class
    weights` (the same rows, `class_weight="balanced"`) and `as published` (`train.parquet`
    as written, synthetic rows included), each scored on the untouched `test.parquet` by
    `tasks.run.classifiers.score`; the minority is the smallest class of the original rows.

    Args:
        run_folder: A published tabular run.
        manifest: Its manifest (`columns.label`, `columns.features`, `columns.categorical`).
        use_class_weights: Score the `class weights` arm too.
        seed: The models' `random_state`.
    """
    folder = Path(run_folder)
    columns = manifest["columns"]
    label, features = columns["label"], list(columns["features"])
    categorical = set(columns.get("categorical") or [])
    train = pl.read_parquet(folder / "train.parquet")
    test = pl.read_parquet(folder / "test.parquet")
    original = train.filter(~pl.col(SYNTHETIC)) if SYNTHETIC in train.columns else train
    arms = [(NO_RESAMPLING, original, None)]
    if use_class_weights:
        arms.append((CLASS_WEIGHTS, original, "balanced"))
    arms.append((PUBLISHED, train, None))
    positions = {
        "numeric": [index for index, name in enumerate(features) if name not in categorical],
        "categorical": [index for index, name in enumerate(features) if name in categorical],
    }
    minority = minority_class(original[label].to_numpy())
    x_test = _matrix(test, features, categorical)
    y_test = test[label].to_numpy()
    scores = []
    with single_threaded():
        for model in MODELS:
            for arm, rows, class_weight in arms:
                estimator = make_model(model, **positions, class_weight=class_weight, seed=seed)
                estimator.fit(_matrix(rows, features, categorical), rows[label].to_numpy())
                proba = estimator.predict_proba(x_test)
                found = score(y_test, proba, estimator.classes_, minority=minority)
                scores.append(Score(arm, model, rows.height, found))
    return Comparison(tuple(scores), str(minority), test.height)


def cv_estimates(manifest: Mapping[str, Any], /) -> dict[tuple[str, str], dict[str, str]]:
    """(arm, model) → metric → the run's cross-validated estimate as `mean ± std`.

    The evaluation names the arm whose rows the run published (`published_arm`: the
    configured or picked sampler, or `no resampling`); here that arm is `as published`.
    Empty when the manifest has no evaluation, or the evaluation was skipped.
    """
    entry = manifest.get("evaluation") or {}
    if not entry or entry.get("skipped"):
        return {}
    published = entry.get("published_arm")
    estimates: dict[tuple[str, str], dict[str, str]] = {}
    for result in entry.get("results", []):
        if result.get("failed") or not result.get("metrics"):
            continue
        shown = {metric: _mean_std(result["metrics"].get(metric) or {}) for metric in METRICS}
        arm, model = result["arm"], result["model"]
        if arm in (NO_RESAMPLING, CLASS_WEIGHTS):
            estimates[arm, model] = shown
        if arm == published:
            estimates[PUBLISHED, model] = shown
    return estimates


def score_rows(comparison: Comparison, manifest: Mapping[str, Any], /) -> list[dict[str, Any]]:
    """One table row per model and arm: training rows and test scores, rounded, and, when
    the run has cross-validated estimates, each as `cv_<metric>` (`mean ± std`, or None)."""
    estimates = cv_estimates(manifest)
    rows = []
    for item in comparison.scores:
        row: dict[str, Any] = {
            "model": item.model,
            "arm": item.arm,
            "train_rows": item.train_rows,
            **{metric: _rounded(item.metrics[metric]) for metric in METRICS},
        }
        if estimates:  # the same columns in every row, for the table artifact
            estimate = estimates.get((item.arm, item.model)) or {}
            row |= {f"cv_{metric}": estimate.get(metric) for metric in METRICS}
        rows.append(row)
    return rows


def render_scores(name: str, comparison: Comparison, manifest: Mapping[str, Any], /) -> str:
    """Markdown: a table per model, each arm's test scores with the run's cross-validated
    estimate for that arm on the next row, when the manifest has one."""
    estimates = cv_estimates(manifest)
    tables = []
    for model in dict.fromkeys(item.model for item in comparison.scores):
        rows = []
        for item in comparison.scores:
            if item.model != model:
                continue
            cells = [_format(item.metrics[metric]) for metric in METRICS]
            rows.append(
                {"arm": item.arm, "on": "test split", "rows": item.train_rows, "cells": cells}
            )
            estimate = estimates.get((item.arm, model))
            if estimate:
                cells = [estimate[metric] for metric in METRICS]
                rows.append({"arm": "", "on": "CV estimate", "rows": "", "cells": cells})
        tables.append({"title": MODEL_TITLES.get(model, model).capitalize(), "rows": rows})
    entry = manifest.get("evaluation") or {}
    rebalance = manifest.get("rebalance") or {}
    return render(
        TEMPLATE,
        name=name,
        sampler=rebalance.get("sampler"),
        minority=comparison.minority,
        test_rows=comparison.test_rows,
        tables=tables,
        folds=entry.get("folds", {}).get("total") if estimates else None,
        skipped=entry.get("skipped"),
    )


def render_counts(name: str, checked: dict[str, Any], /) -> str:
    """A markdown table of the rows and class counts per split that loaded."""
    lines = [
        f"# Outputs of `{name}` load",
        "",
        f"{checked['files_checked']} files match the manifest's sha256.",
        "",
        "| split | rows | classes |",
        "|---|---|---|",
    ]
    for split, found in checked["splits"].items():
        classes = ", ".join(f"{label}: {count}" for label, count in found["classes"].items())
        lines.append(f"| {split} | {found['rows']} | {classes} |")
    return "\n".join(lines) + "\n"


def _matrix(frame: pl.DataFrame, features: list[str], categorical: set[str]) -> np.ndarray:
    """The features as the models take them: floats, or an object matrix of floats and
    strings when some columns are categorical (polars → numpy once, here)."""
    if not categorical:
        return frame.select(features).cast(pl.Float64).to_numpy()
    matrix = np.empty((frame.height, len(features)), dtype=object)
    for index, name in enumerate(features):
        kind = pl.String if name in categorical else pl.Float64
        matrix[:, index] = frame[name].cast(kind).to_numpy()
    return matrix


def _mean_std(found: Mapping[str, Any]) -> str:
    if found.get("mean") is None:
        return MISSING
    return f"{found['mean']:.3f} ± {found.get('std') or 0.0:.3f}"


def _format(value: float) -> str:
    return MISSING if np.isnan(value) else f"{value:.3f}"


def _rounded(value: float) -> float | None:
    return None if np.isnan(value) else round(value, 4)


def _class_counts(labels: pl.Series) -> dict[str, int]:
    counts = labels.value_counts()
    return {
        str(value): int(count)
        for value, count in sorted(
            zip(counts[labels.name], counts["count"], strict=True), key=lambda x: str(x[0])
        )
    }

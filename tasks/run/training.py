"""What a training job downstream of a run does: plain functions, no Prefect.

For tables, `compare_models` fits one scikit-learn pipeline several ways (on the original
training rows, on the rebalanced `train.parquet`, and optionally on the original rows with the
manifest's class weights) and scores each on the untouched `test.parquet`, so the table shows
what rebalancing bought. For other modalities, `check_outputs` proves the outputs load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance.errors import DataError
from tasks.core.columns import SYNTHETIC
from tasks.core.files import file_sha256

SPLIT_FILES = ("train", "val", "test")


@dataclass(frozen=True)
class Score:
    """One model's scores on the test split."""

    model: str
    train_rows: int
    balanced_accuracy: float
    macro_f1: float
    recall: dict[str, float]


def score_rows(scores: list[Score], /) -> list[dict[str, Any]]:
    """One table row per model: its training rows and scores, rounded for display."""
    return [
        {
            "model": score.model,
            "train_rows": score.train_rows,
            "balanced_accuracy": round(score.balanced_accuracy, 4),
            "macro_f1": round(score.macro_f1, 4),
            **{f"recall_{name}": round(value, 4) for name, value in score.recall.items()},
        }
        for score in scores
    ]


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
    manifest: dict[str, Any],
    /,
    *,
    use_class_weights: bool = False,
    seed: int = 0,
) -> list[Score]:
    """Fit the same classifier on the original and the rebalanced training rows; score on test.

    Args:
        run_folder: A published tabular run.
        manifest: Its manifest.
        use_class_weights: Also fit on the original rows weighted by the manifest's
            `class_weights.balanced` (the alternative to resampling).
        seed: The classifier's `random_state`.
    """
    folder = Path(run_folder)
    columns = manifest["columns"]
    label = columns["label"]
    train = pl.read_parquet(folder / "train.parquet")
    test = pl.read_parquet(folder / "test.parquet")
    original = train.filter(~pl.col(SYNTHETIC)) if SYNTHETIC in train.columns else train
    options = {"label": label, "categorical": columns["categorical"], "seed": seed}
    features = columns["features"]
    scores = [
        fit_and_score("original", original, test, features=features, **options),
        fit_and_score("rebalanced", train, test, features=features, **options),
    ]
    if use_class_weights:
        weights = manifest["class_weights"]["balanced"]["weights"]
        scores.append(
            fit_and_score(
                "original + class weights",
                original,
                test,
                features=features,
                class_weights=weights,
                **options,
            )
        )
    return scores


def fit_and_score(
    model: str,
    train: pl.DataFrame,
    test: pl.DataFrame,
    /,
    *,
    label: str,
    features: list[str],
    categorical: list[str],
    seed: int,
    class_weights: dict[str, float] | None = None,
) -> Score:
    """One-hot categorical + scaled numeric features into a logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [name for name in features if name not in categorical]
    encode = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("numeric", StandardScaler(), numeric),
        ]
    )
    pipeline = Pipeline(
        [("encode", encode), ("classify", LogisticRegression(max_iter=2000, random_state=seed))]
    )
    # polars → pandas once, here: scikit-learn's ColumnTransformer selects columns by name.
    x_train = train.select(features).to_pandas()
    y_train = train[label].to_numpy()
    fit_options = {}
    if class_weights is not None:
        fit_options["classify__sample_weight"] = np.array(
            [class_weights[str(value)] for value in y_train]
        )
    pipeline.fit(x_train, y_train, **fit_options)
    y_test = test[label].to_numpy()
    predicted = pipeline.predict(test.select(features).to_pandas())
    classes = sorted(set(y_test.tolist()) | set(y_train.tolist()), key=str)
    recall = recall_score(y_test, predicted, labels=classes, average=None, zero_division=0)
    return Score(
        model=model,
        train_rows=train.height,
        balanced_accuracy=float(balanced_accuracy_score(y_test, predicted)),
        macro_f1=float(f1_score(y_test, predicted, average="macro", zero_division=0)),
        recall={str(name): float(value) for name, value in zip(classes, recall, strict=True)},
    )


def render_scores(name: str, scores: list[Score], /) -> str:
    """A markdown table: one row per model, balanced accuracy, macro F1, recall per class."""
    classes = sorted({name for score in scores for name in score.recall})
    header = ["model", "train rows", "balanced accuracy", "macro F1"]
    header += [f"recall {name}" for name in classes]
    lines = [
        f"# Training on `{name}`: what rebalancing bought",
        "",
        "Logistic regression (one-hot categorical, scaled numeric features), scored on the "
        "untouched `test.parquet`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for score in scores:
        cells = [
            score.model,
            str(score.train_rows),
            f"{score.balanced_accuracy:.3f}",
            f"{score.macro_f1:.3f}",
        ]
        cells += [f"{score.recall.get(name, float('nan')):.3f}" for name in classes]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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


def _class_counts(labels: pl.Series) -> dict[str, int]:
    counts = labels.value_counts()
    return {
        str(value): int(count)
        for value, count in sorted(
            zip(counts[labels.name], counts["count"], strict=True), key=lambda x: str(x[0])
        )
    }

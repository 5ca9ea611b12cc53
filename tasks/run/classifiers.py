"""The two example models and the four scores that judge rebalancing: plain scikit-learn.

Shared by the cross-validated comparison of a run (`tasks.tabular.evaluation`) and the
training job downstream of it (`tasks.run.training`), so the estimate made before publishing
and the result on the untouched test split measure the same thing.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

MODELS = ("logistic_regression", "gradient_boosting")
MODEL_TITLES = {
    "logistic_regression": "logistic regression",
    "gradient_boosting": "gradient boosting",
}
METRICS = ("balanced_accuracy", "average_precision", "minority_recall", "macro_f1")
METRIC_TITLES = {
    "balanced_accuracy": "balanced accuracy",
    "average_precision": "average precision",
    "minority_recall": "minority recall",
    "macro_f1": "macro F1",
}
# Enough for lbfgs on scaled features and one-hot columns; a rare non-converged fit still
# gives usable probabilities, so its warning is not an error.
LOGISTIC_MAX_ITER = 1000
# What make_model and score import (preload imports them before anything is timed).
SKLEARN_MODULES = (
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "tasks.run.quantile_bins",
)
# Fixed and small: 50 trees of 15 leaves at twice the default learning rate fit in a half to
# a third of the default's time (one core: 0.30 s vs 0.64 s on the 569 rows of breast cancer,
# 0.33 s vs 0.99 s on 16,000 rows × 10) for about the same cross-validated balanced accuracy
# (0.964 vs 0.965, 0.86 vs 0.87); no early stopping means no random validation split, so
# every fit is reproducible.
BOOSTING_PARAMS = {
    "max_iter": 50,
    "learning_rate": 0.2,
    "max_leaf_nodes": 15,
    "early_stopping": False,
}


def make_model(
    kind: str,
    *,
    numeric: Sequence[int],
    categorical: Sequence[int],
    class_weight: str | None,
    seed: int,
) -> Any:
    """A scikit-learn Pipeline: scaled numeric and one-hot categorical columns into a classifier.

    Args:
        kind: `logistic_regression` or `gradient_boosting` (HistGradientBoostingClassifier).
        numeric: Column positions of numeric features (StandardScaler for the linear model,
            `QuantileBins` for the trees).
        categorical: Column positions of categorical features (OneHotEncoder, unknown
            categories ignored). The input may be a float matrix or an object matrix of floats
            and strings.
        class_weight: `"balanced"` to weight classes inversely to their frequency, or None.
        seed: The estimator's `random_state`.

    Raises:
        ValueError: `kind` is not one of `MODELS`.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from tasks.run.quantile_bins import QuantileBins

    if kind not in MODELS:
        msg = f"model {kind!r} is not one of {', '.join(MODELS)}; use one of those names"
        raise ValueError(msg)
    boosting = kind == "gradient_boosting"
    parts: list[tuple[str, Any, list[int]]] = []
    if numeric:
        # Trees need no scaling; they need bins made without the class weights (see
        # tasks.run.quantile_bins: weighted binning is 10-30 times slower in sklearn 1.9).
        scale = QuantileBins() if boosting else StandardScaler()
        parts.append(("numeric", scale, list(numeric)))
    if categorical:
        # Dense for the boosted trees (they refuse sparse input); sparse is fine and smaller
        # for the linear model.
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=not boosting)
        parts.append(("categorical", encoder, list(categorical)))
    if boosting:
        estimator = HistGradientBoostingClassifier(
            **BOOSTING_PARAMS, class_weight=class_weight, random_state=seed
        )
    else:
        estimator = LogisticRegression(
            max_iter=LOGISTIC_MAX_ITER, class_weight=class_weight, random_state=seed
        )
    encode = ColumnTransformer(parts, sparse_threshold=0.0 if boosting else 0.3)
    return Pipeline([("encode", encode), ("classify", estimator)])


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Fit inside this: one OpenMP and BLAS thread.

    These fits are small (at most some 20,000 rows), and the boosted trees' OpenMP threads
    wait on each other at every split: on a busy 2-core machine one thread fitted 200, 4,000
    and 16,000 rows 3-7 times faster than two (0.15 s vs 0.57 s, 0.2 s vs 1.5 s, 0.6 s vs
    2.2 s).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def preload() -> None:
    """Import what `make_model` and `score` use (3-8 s cold), so a timed fit does not pay it."""
    for name in SKLEARN_MODULES:
        importlib.import_module(name)


def minority_class(labels: Sequence[Any] | np.ndarray, /) -> Any:
    """The class with the fewest rows (ties: the first by its text), as found in `labels`."""
    counts = Counter(np.asarray(labels).tolist())
    return min(counts, key=lambda name: (counts[name], str(name)))


def average_precision_kind(n_classes: int, /) -> str:
    """What `average_precision` means for this many classes, for reports."""
    if n_classes <= 2:
        return "average precision of the minority class as the positive class"
    return "macro average over classes of one-vs-rest average precision"


def score(
    y_true: Sequence[Any] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[Any] | np.ndarray,
    *,
    minority: Any,
) -> dict[str, float]:
    """The four scores of one model on one set of rows, predicting the most probable class.

    Args:
        y_true: The true labels.
        proba: `predict_proba`'s output, one column per entry of `classes`.
        classes: The classes in `proba`'s column order (the estimator's `classes_`).
        minority: The class whose recall is `minority_recall` (and, with two classes, the
            positive class of `average_precision`).

    Returns:
        `balanced_accuracy`, `average_precision` (binary: of `minority`; multiclass: macro
        one-vs-rest over the classes present in `y_true`; NaN when no class is present),
        `minority_recall` and `macro_f1` (0 where a class is never predicted).
    """
    from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score

    y_true = np.asarray(y_true)
    classes = np.asarray(classes)
    predicted = classes[np.argmax(proba, axis=1)]
    with warnings.catch_warnings():
        # A fold may predict a class it lacks; sklearn warns and scores the classes it has.
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y_true, predicted)
    recall = recall_score(y_true, predicted, labels=[minority], average=None, zero_division=0)
    return {
        "balanced_accuracy": float(balanced),
        "average_precision": _average_precision(y_true, proba, classes, minority=minority),
        "minority_recall": float(recall[0]),
        "macro_f1": float(f1_score(y_true, predicted, average="macro", zero_division=0)),
    }


def _average_precision(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, *, minority: Any
) -> float:
    """AP of the minority (two classes) or the macro one-vs-rest AP; a class absent from
    `y_true` has no AP (sklearn would warn and return a meaningless 0), so it is left out."""
    from sklearn.metrics import average_precision_score

    positives = [minority] if len(classes) <= 2 else list(classes)
    values = []
    for name in positives:
        truth = y_true == name
        if not truth.any():
            continue
        column = np.flatnonzero(classes == name)
        # A class the model never saw has probability 0 everywhere.
        scores = proba[:, column[0]] if column.size else np.zeros(len(y_true))
        values.append(average_precision_score(truth, scores))
    return float(np.mean(values)) if values else float("nan")

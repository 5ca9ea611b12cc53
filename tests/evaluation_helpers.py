"""Evaluations with chosen scores, built in code (no fitting), for the pick and the renderers."""

from __future__ import annotations

import math

from tasks.run.classifiers import METRICS
from tasks.tabular.evaluation import CANNOT_TELL, FAILED, ArmResult, Evaluation

MODELS = ("logistic_regression", "gradient_boosting")


def evaluation_with(
    scores: dict[str, tuple[float, float] | str], *, verdict: str = CANNOT_TELL, **fields
) -> Evaluation:
    """An evaluation whose arms (the first is the baseline) score mean ± std on every metric
    with both models (two folds each, m ± std/√2, so the sample std is exactly std), or
    failed with the given reason."""
    results = []
    for model in MODELS:
        for position, (name, found) in enumerate(scores.items()):
            if isinstance(found, str):
                results.append(ArmResult(name, model, failed=found, verdict=FAILED))
                continue
            mean, std = found
            spread = std / math.sqrt(2)
            folds = {metric: (mean - spread, mean + spread) for metric in METRICS}
            results.append(ArmResult(name, model, folds, verdict=verdict if position else None))
    defaults = {
        "arms": tuple(scores),
        "models": MODELS,
        "results": tuple(results),
        "classes": {"no": 90, "yes": 10},
        "minority": "yes",
        "n_splits": 2,
        "n_repeats": 1,
        "repeats_run": 1,
        "rows_available": 100,
        "rows_used": 100,
        "subsampled": None,
        "seconds": 1.0,
        "time_budget_seconds": 60.0,
        "seed": 0,
    }
    return Evaluation(**{**defaults, **fields})

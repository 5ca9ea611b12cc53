"""The evaluate step for tables: the training split as a matrix, and the arms to compare.

`tasks.tabular.evaluation` compares arms on a matrix; this module builds them from the run's
config the way the rebalance step builds its sampler (SMOTE runs as SMOTENC on categorical
columns, k lowered for a small class), so the evidence is about the sampler that will run.
Only the training split's original rows reach it: val and test are never read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance.config import TabularConfig
from rebalance.config.tabular import AUTO, CLASS_WEIGHTS
from rebalance.errors import SamplerError
from tasks.core.columns import Columns
from tasks.core.contract import Evaluated
from tasks.core.frames import row_count
from tasks.tabular import evaluation, samplers
from tasks.tabular.evaluation_report import CHART_FILE, render_evaluation, render_evaluation_chart
from tasks.tabular.kinds import feature_kinds
from tasks.tabular.sampler_setup import fit_neighbours, object_matrix, prepare_sampler

ROW_NUMBER = "__evaluate_row"
# The arm name of the `class_weights` candidate of `rebalance.sampler: auto`.
ARM_OF_CANDIDATE = {CLASS_WEIGHTS: evaluation.CLASS_WEIGHTS}


def evaluate_table(
    train: pl.DataFrame | pl.LazyFrame, /, *, columns: Columns, config: TabularConfig, run_dir: Path
) -> Evaluated:
    """Cross-validate no resampling, class weights and the configured sampler (or every
    candidate of `auto`) on the training rows; writes the chart into `run_dir`."""
    options = config.evaluate
    seed = config.random_state
    rows_available = row_count(train)
    frame = _stratified_rows(
        train, label=columns.label, rows=options.max_rows, minimum=options.n_splits, seed=seed
    )
    numeric, categorical = feature_kinds(frame, columns)
    # One matrix for every arm: numbers as floats, categorical columns as their values (what
    # SMOTENC and the random samplers take); a sampler that needs them one-hot encoded gets
    # them so through `OneHotSampler`.
    x = object_matrix(frame, columns.features, numeric)
    y = frame[columns.label].to_numpy()
    positions = {name: index for index, name in enumerate(columns.features)}
    sampler_names = _samplers_to_compare(config)
    arms = [
        evaluation.Arm(evaluation.BASELINE),
        evaluation.Arm(evaluation.CLASS_WEIGHTS, class_weight="balanced"),
        *(
            evaluation.Arm(
                name,
                make_sampler=_fold_sampler(
                    name,
                    config.rebalance.params,
                    columns=columns,
                    numeric=numeric,
                    categorical=categorical,
                    seed=seed,
                ),
            )
            for name in sampler_names
        ),
    ]
    result = evaluation.evaluate_arms(
        x,
        y,
        arms=arms,
        numeric=[positions[name] for name in numeric],
        categorical=[positions[name] for name in categorical],
        models=options.models,
        n_splits=options.n_splits,
        n_repeats=options.n_repeats,
        time_budget_seconds=options.time_budget_seconds,
        max_rows=options.max_rows,
        seed=seed,
    )
    picked = None
    if config.rebalance.sampler == AUTO:
        candidates = [ARM_OF_CANDIDATE.get(name, name) for name in config.rebalance.candidates]
        choice = evaluation.pick(result, candidates=candidates, metric=options.metric)
        entry = result.as_manifest(pick=choice)
        picked = next(
            (name for name, arm in ARM_OF_CANDIDATE.items() if arm == choice.winner),
            choice.winner,
        )
    else:
        entry = result.as_manifest()
    if rows_available > frame.height:
        # The rows were sampled here, before the matrix: say so from the whole split's count.
        entry["rows"]["available"] = rows_available
        entry["rows"]["subsampled"] = (
            f"{rows_available:,} training rows are more than evaluate.max_rows "
            f"({options.max_rows:,}): {frame.height:,} kept, stratified"
            + (f"; then {entry['rows']['subsampled']}" if entry["rows"]["subsampled"] else "")
        )
    entry["published_arm"] = _published_arm(config, picked)
    chart = None
    if not entry["skipped"]:
        render_evaluation_chart(entry, run_dir / CHART_FILE)
        chart = CHART_FILE
    notes = []
    if picked is not None:
        notes.append(f"rebalance.sampler auto picked {picked}: {entry['pick']['reason']}")
    return Evaluated(
        entry=entry,
        picked=picked,
        notes=notes,
        report_sections=(render_evaluation(entry, chart=chart),),
    )


def _samplers_to_compare(config: TabularConfig) -> list[str]:
    if config.rebalance.sampler == AUTO:
        return [name for name in config.rebalance.candidates if name != CLASS_WEIGHTS]
    if config.rebalance.sampler == samplers.NO_SAMPLER:
        return []
    return [config.rebalance.sampler]


def _published_arm(config: TabularConfig, picked: str | None) -> str:
    """The arm whose training rows the run publishes."""
    sampler = picked if picked is not None else config.rebalance.sampler
    if sampler == samplers.NO_SAMPLER:
        return evaluation.BASELINE
    return ARM_OF_CANDIDATE.get(sampler, sampler)


def _fold_sampler(
    name: str,
    params: dict[str, Any],
    *,
    columns: Columns,
    numeric: list[str],
    categorical: list[str],
    seed: int,
):
    """A factory of the sampler for one fold's training labels (k lowered to what they allow)."""
    at = {name: index for index, name in reversed(list(enumerate(columns.features)))}

    def _positions_of(names: list[str]) -> list[int]:
        return [at[name] for name in names]

    def make(labels: np.ndarray) -> Any:
        prepared = prepare_sampler(
            name, params, columns=columns, numeric=numeric, categorical=categorical, seed=seed
        )
        fit_neighbours(prepared.estimator, labels)
        if categorical and not prepared.takes_any_values:
            return OneHotSampler(prepared.estimator, categorical=_positions_of(categorical))
        return prepared.estimator

    return make


def _stratified_rows(
    train: pl.DataFrame | pl.LazyFrame, /, *, label: str, rows: int, minimum: int, seed: int
) -> pl.DataFrame:
    """About `rows` training rows, each class keeping its share (a class whose share is under
    2 × `minimum` rows keeps all its rows); read lazily, so a streamed split is never
    collected whole."""
    frame = train.lazy()
    total = row_count(train)
    if total <= rows:
        return frame.collect(engine="streaming")
    counts = frame.group_by(label).len().collect(engine="streaming")
    keep = {}
    for value, count in zip(counts[label].to_list(), counts["len"].to_list(), strict=True):
        share = rows * count / total
        # A draw keeps about `share` rows; a class that would get few keeps all of its rows,
        # so every fold still holds some.
        keep[value] = 1.0 if share < 2 * minimum else min(1.0, share / count)
    # A seeded hash of the row number, compared with each class's share: no sort, no shuffle
    # of the whole split, the same rows on every rerun.
    draw = pl.col(ROW_NUMBER).hash(seed).cast(pl.Float64) / 2.0**64
    share = pl.col(label).replace_strict(keep, return_dtype=pl.Float64)
    sampled = frame.with_row_index(ROW_NUMBER).filter(draw < share).drop(ROW_NUMBER)
    return sampled.collect(engine="streaming")


class OneHotSampler:
    """A row-choosing sampler (Tomek links, edited nearest neighbours, ...) on a matrix whose
    categorical columns hold values: it chooses on their one-hot encoding, as the rebalance
    step's sampler does, and returns the chosen rows as they were."""

    def __init__(self, sampler: Any, *, categorical: list[int]) -> None:
        self.sampler = sampler
        self.categorical = categorical

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # what sklearn's clone reads
        return {"sampler": self.sampler, "categorical": self.categorical}

    def set_params(self, **params: Any) -> OneHotSampler:
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit_resample(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        categorical = set(self.categorical)
        numeric = [index for index in range(x.shape[1]) if index not in categorical]
        encoded = pl.DataFrame(
            {str(index): x[:, index].astype(str) for index in self.categorical}
        ).to_dummies()
        matrix = np.hstack([x[:, numeric].astype(np.float64), encoded.to_numpy()])
        _, resampled_y = self.sampler.fit_resample(matrix, y)
        chosen = getattr(self.sampler, "sample_indices_", None)
        if chosen is None:
            msg = f"{type(self.sampler).__name__} makes new rows and cannot take categorical ones"
            raise SamplerError(msg)
        return x[chosen], resampled_y

"""The sampler a table's run builds, and the matrix it gets: shared by the rebalance step and
the evaluate step, so the cross-validated evidence is about the sampler that runs.

SMOTE on categorical columns runs as SMOTENC (mixed) or SMOTEN (categorical only); SMOTENC
gets its categorical columns as positions; samplers that need numeric features refuse
categorical ones; k of a within-class k-NN sampler is lowered to what the labels allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from rebalance.errors import SamplerError
from tasks.core.columns import Columns
from tasks.tabular import samplers


@dataclass(frozen=True)
class PreparedSampler:
    """An imblearn sampler built for this table's columns.

    Attributes:
        name: The imblearn class that runs (SMOTENC for SMOTE on mixed columns).
        estimator: The sampler, not yet fitted (k not yet lowered: see `fit_neighbours`).
        notes: What changed from the config, for the log and the report.
    """

    name: str
    estimator: Any
    notes: list[str] = field(default_factory=list)

    @property
    def takes_any_values(self) -> bool:
        """Whether it takes categorical columns as their values (else one-hot encoded)."""
        return self.name in samplers.ANY_VALUES


def prepare_sampler(
    sampler: str,
    params: dict[str, Any],
    /,
    *,
    columns: Columns,
    numeric: list[str],
    categorical: list[str],
    seed: int,
) -> PreparedSampler:
    """Build `sampler` with `params` for these feature kinds.

    Raises:
        SamplerError: the sampler needs numeric features and some are categorical.
        ConfigError: imblearn refuses a parameter.
    """
    name = samplers.sampler_class(sampler).__name__
    params = dict(params)
    notes: list[str] = []
    if categorical and name == "SMOTE":
        name = "SMOTEN" if not numeric else "SMOTENC"
        notes.append(f"SMOTE ran as {name} because of categorical columns {categorical}")
    if name == "SMOTENC":
        # imblearn takes column positions for a numpy matrix; users name columns. Names are
        # declared categorical (`columns.categorical`): pass every categorical column.
        named = params.get("categorical_features")
        named = categorical if named is None or are_names(named) else named
        params["categorical_features"] = positions(named, columns.features)
    samplers.refuse_categorical(name, categorical)
    estimator = samplers.build_sampler(name, params, seed=seed)
    fallback = samplers.vectorised_fallback(name)
    if fallback:
        notes.append(fallback)
    return PreparedSampler(name=name, estimator=estimator, notes=notes)


def are_names(categorical_features: Any) -> bool:
    """Whether SMOTENC's `categorical_features` names columns (not positions, a mask, "auto")."""
    return (
        isinstance(categorical_features, list | tuple)
        and bool(categorical_features)
        and all(isinstance(name, str) for name in categorical_features)
    )


def positions(names: list[Any], features: tuple[str, ...]) -> list[int]:
    positions = []
    # A dict, not `features.index`: a scan per name is quadratic on thousands of columns.
    at = {feature: index for index, feature in reversed(list(enumerate(features)))}
    for name in names:
        if isinstance(name, int):
            positions.append(name)
        elif name in at:
            positions.append(at[name])
        else:
            msg = (
                f"rebalance.params.categorical_features names '{name}', which is not a "
                f"feature column ({', '.join(features)})"
            )
            raise SamplerError(msg)
    return positions


def object_matrix(frame: pl.DataFrame, features: tuple[str, ...], numeric: list[str]):
    """Numeric columns as floats, others as their Python values, in one object array."""
    if len(numeric) == len(features):
        return frame.select(features).cast(pl.Float64).to_numpy()
    matrix = np.empty((frame.height, len(features)), dtype=object)
    numeric = set(numeric)  # a list's `in` is a scan per column
    for index, name in enumerate(features):
        column = frame[name]
        if name in numeric:
            matrix[:, index] = column.cast(pl.Float64).to_numpy()
        else:
            matrix[:, index] = (
                column.cast(pl.String).to_numpy()
                if column.dtype != pl.Boolean
                else column.to_numpy()
            )
    return matrix


def float_matrix(frame: pl.DataFrame, numeric: list[str], categorical: list[str]):
    """Numeric columns as floats plus categorical columns one-hot encoded (for distances)."""
    parts = [frame.select(numeric).cast(pl.Float64)] if numeric else []
    if categorical:
        encoded = frame.select(pl.col(categorical).cast(pl.String)).to_dummies()
        parts.append(encoded.cast(pl.Float64))
    return pl.concat(parts, how="horizontal").to_numpy()


def fit_neighbours(estimator: Any, labels: np.ndarray) -> str | None:
    """Lower k for the smallest class that the sampler will oversample."""
    from imblearn.over_sampling import SMOTE
    from imblearn.utils import check_sampling_strategy

    if samplers.sampler_name(estimator) in ("SMOTEENN", "SMOTETomek"):
        # Their SMOTE step is an estimator param: lower its k, keep their strategy and seed.
        inner = estimator.smote or SMOTE(
            sampling_strategy=estimator.sampling_strategy, random_state=estimator.random_state
        )
        note = fit_neighbours(inner, labels)
        if note:
            estimator.set_params(smote=inner)
        return note
    if samplers.sampler_name(estimator) not in samplers.WITHIN_CLASS_NEIGHBOURS:
        return None
    try:
        strategy = check_sampling_strategy(
            estimator.sampling_strategy, labels, estimator._sampling_type
        )
    except ValueError as exc:
        samplers.raise_sampler_failure(samplers.sampler_name(estimator), exc)
    grown = [name for name, extra in strategy.items() if extra > 0]
    if not grown:
        return None
    names, counts = np.unique(labels, return_counts=True)
    sizes = {name: int(count) for name, count in zip(names.tolist(), counts, strict=True)}
    smallest_class = min(grown, key=lambda name: sizes[name])
    return samplers.lower_neighbours(
        estimator, smallest=sizes[smallest_class], smallest_class=smallest_class
    )


def sampler_matrix(
    frame: pl.DataFrame, name: str, *, columns: Columns, numeric: list[str], categorical: list[str]
) -> np.ndarray:
    """The matrix sampler `name` gets: categorical columns as values for the samplers that
    take any values (SMOTENC, SMOTEN, the random ones), else one-hot encoded."""
    if name in samplers.ANY_VALUES:
        return object_matrix(frame, columns.features, numeric)
    return float_matrix(frame, numeric, categorical)

"""Rebalance a training table with an imbalanced-learn sampler, keeping polars dtypes.

polars → numpy happens here, once, at the imblearn boundary (imblearn does not take polars
frames). Original rows are taken back from the polars frame, so they keep their exact values,
dtypes and id; only synthetic rows are rebuilt from numpy, cast to the original dtypes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from rebalance.errors import SamplerError
from tasks.core.classes import class_counts
from tasks.core.columns import SYNTHETIC, Columns
from tasks.core.conflicts import TABLE_IDENTITY, Conflicts, original_identities, table_identity
from tasks.core.contract import Resampled
from tasks.tabular import samplers
from tasks.tabular.kinds import categorical_features, feature_kinds, kind_notes
from tasks.tabular.memory_guard import (
    CELL_BYTES,
    OBJECT_CELL_BYTES,
    refuse_if_too_large,
    searched_neighbours,
    streamed_smote_estimate,
)
from tasks.tabular.redraw import REDRAWS, replace_contradicting
from tasks.tabular.sampler_setup import (
    are_names,
    fit_neighbours,
    positions,
    prepare_sampler,
    sampler_matrix,
)


def rebalance_table(
    train: pl.DataFrame,
    /,
    *,
    columns: Columns,
    sampler: str,
    params: dict[str, Any],
    seed: int,
    holdout: pl.DataFrame | None = None,
) -> Resampled:
    """Resample the training split; returns it with an `is_synthetic` column.

    Categorical columns are those of a categorical dtype and those declared in
    `columns.categorical` (or named in `params["categorical_features"]`), integer codes
    included (see `tasks.tabular.kinds`). SMOTE on data with categorical feature columns runs
    SMOTENC (mixed) or SMOTEN (all categorical). Distance-based under-samplers see
    categorical columns one-hot encoded. k of within-class k-NN samplers is lowered to what
    the smallest class allows. A sampler that interpolates gets a note for each numeric
    column that looks like category codes or a row id.
    Synthetic rows identical to an original of another class (in train, or in `holdout`:
    val's and test's `labelled_identities`) are redrawn or dropped (`tasks.tabular.redraw`).

    Raises:
        SamplerError: the sampler cannot run on this data; the message says what to use.
    """
    named = params.get("categorical_features")
    if are_names(named):
        # Names declare columns, as `categorical_columns` does (the config folds them in).
        positions(named, columns.features)  # one line for a name that is not a feature
        declared = tuple(dict.fromkeys([*columns.categorical, *named]))
        columns = dataclasses.replace(columns, categorical=declared)
    if sampler.lower() == samplers.NO_SAMPLER:
        frame = train.with_columns(pl.lit(False).alias(SYNTHETIC))
        return Resampled(
            frame=frame,
            requested=sampler,
            sampler=None,
            params={},
            categorical=categorical_features(train, columns),
            conflicts=Conflicts(TABLE_IDENTITY),
        )
    if not columns.features:
        msg = f"sampler {sampler} needs at least one feature column; check `features`"
        raise SamplerError(msg)
    numeric, categorical = feature_kinds(train, columns)
    one_hot_columns = sum(refuse_identifier_like(train, categorical).values())
    labels = train[columns.label].to_numpy()
    prepared = prepare_sampler(
        sampler, params, columns=columns, numeric=numeric, categorical=categorical, seed=seed
    )
    name, estimator, notes = prepared.name, prepared.estimator, list(prepared.notes)
    new_rows = _new_rows(estimator, labels)
    refuse_if_too_large(
        sampler=name,
        rows=train.height,
        row_bytes=_row_bytes(name, numeric, categorical, one_hot_columns),
        new_rows=new_rows,
        streamed=_streamed_bytes(
            name, estimator, labels, new_rows, numeric, categorical, one_hot_columns
        ),
    )
    features = sampler_matrix(
        train, name, columns=columns, numeric=numeric, categorical=categorical
    )
    note = fit_neighbours(estimator, labels)
    if note:
        notes.append(note)
    if samplers.interpolates(name, estimator.get_params(deep=False)):
        notes += kind_notes(train, numeric, sampler=name)
    try:
        resampled_x, resampled_y = estimator.fit_resample(features, labels)
    except (ValueError, RuntimeError) as exc:
        samplers.raise_sampler_failure(name, exc)
    origin = _origin_of_rows(estimator, features, labels, resampled_x, resampled_y)
    del features  # a copy of the table no longer needed: lowers the peak while assembling
    synthetic = synthetic_frame(train, columns, numeric, origin, resampled_x, resampled_y, name)
    del resampled_x, resampled_y  # the synthetic rows are in polars now: free the matrix
    synthetic, conflicts = _without_contradictions(
        train,
        synthetic,
        holdout,
        estimator,
        columns=columns,
        numeric=numeric,
        categorical=categorical,
        seed=seed,
    )
    frame = _assemble(train, origin, synthetic)
    effective = effective_params(estimator, columns.features)
    return Resampled(
        frame=frame,
        requested=sampler,
        sampler=name,
        params=effective,
        categorical=categorical,
        notes=notes,
        conflicts=conflicts,
    )


def refuse_identifier_like(train: pl.DataFrame | pl.LazyFrame, categorical: list[str]) -> dict:
    """A categorical column with (nearly) one value per row is an id or free text, and its
    one-hot encoding (rows × categories) would not fit in memory: refuse it up front.

    Returns each categorical column's count of distinct values (a streaming query on a
    LazyFrame)."""
    if not categorical:
        return {}
    found = (
        train.lazy()
        .select(*[pl.col(name).n_unique() for name in categorical], pl.len().alias("__rows"))
        .collect(engine="streaming")
        .row(0, named=True)
    )
    height = found.pop("__rows")
    for name in categorical:
        distinct = found[name]
        if distinct > 1_000 and distinct > 0.5 * height:
            gigabytes = height * distinct * 8 / 1e9
            msg = (
                f"categorical feature column '{name}' has {distinct} distinct values in "
                f"{height} training rows (a one-hot encoding of ~{gigabytes:,.1f} GB); "
                "it looks like an id or free text: set it as `id_column` or leave it out "
                "of `features`"
            )
            raise SamplerError(msg)
    return found


def _row_bytes(name: str, numeric: list[str], categorical: list[str], one_hot_columns: int) -> int:
    """Bytes per row of the matrix the sampler gets (see `sampler_setup.sampler_matrix`);
    `one_hot_columns`: the categorical columns' distinct values, summed."""
    if name in samplers.ANY_VALUES and categorical:
        return CELL_BYTES * len(numeric) + OBJECT_CELL_BYTES * len(categorical)
    return CELL_BYTES * (len(numeric) + one_hot_columns)


def _streamed_bytes(
    name, estimator, labels, new_rows, numeric, categorical, one_hot_columns
) -> int | None:
    """The peak of the same SMOTE streamed (`streaming.enabled`), for a refusal to point to
    streaming; None for a sampler that does not stream."""
    from imblearn.utils import check_sampling_strategy

    if not samplers.streams_as_smote(name):
        return None
    try:
        strategy = check_sampling_strategy(estimator.sampling_strategy, labels, "over-sampling")
    except ValueError:
        return None
    names, counts = np.unique(labels, return_counts=True)
    sizes = dict(zip(names.tolist(), counts.tolist(), strict=True))
    return streamed_smote_estimate(
        name,
        rows=labels.size,
        oversampled_rows=sum(sizes[label] for label, count in strategy.items() if count > 0),
        new_rows=new_rows,
        n_numeric=len(numeric),
        n_categorical=len(categorical),
        one_hot_columns=one_hot_columns,
        n_neighbors=searched_neighbours(estimator),
    )


def _new_rows(estimator: Any, labels: np.ndarray) -> int:
    """Rows an over-sampler will add (0 for under-sampling, or a strategy it will refuse)."""
    from imblearn.utils import check_sampling_strategy

    if getattr(estimator, "_sampling_type", None) != "over-sampling":
        return 0
    try:
        strategy = check_sampling_strategy(estimator.sampling_strategy, labels, "over-sampling")
    except ValueError:
        return 0  # fit_resample reports it, with imblearn's own message
    return sum(max(int(extra), 0) for extra in strategy.values())


def _origin_of_rows(estimator, features, labels, resampled_x, resampled_y) -> np.ndarray:
    """For each output row, the index of the training row it is, or -1 if synthetic."""
    n = features.shape[0]
    indices = getattr(estimator, "sample_indices_", None)
    if indices is not None and len(indices) == len(resampled_y):
        origin = np.asarray(indices, dtype=np.int64).copy()
        # A row drawn twice (random over-sampling) is an original once, then a copy.
        _, first = np.unique(origin, return_index=True)
        repeat = np.ones(origin.size, dtype=bool)
        repeat[first] = False
        # Smoothed bootstrap (shrinkage) changes values: such rows are not originals.
        changed = ~_rows_equal(resampled_x, features[origin])
        origin[repeat | changed] = -1
        return origin
    if len(resampled_y) >= n and _rows_equal(resampled_x[:n], features).all():
        # Over-samplers return the input rows first, then the new ones.
        return np.concatenate([np.arange(n), np.full(len(resampled_y) - n, -1)])
    return _match_rows(features, labels, resampled_x, resampled_y)


def _rows_equal(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if left.size == 0:
        return np.ones(left.shape[0], dtype=bool)
    return np.all(left == right, axis=1)


def _match_rows(features, labels, resampled_x, resampled_y) -> np.ndarray:
    """Match output rows to training rows by value (each training row used once)."""
    unused: dict[tuple, list[int]] = {}
    for index in range(features.shape[0] - 1, -1, -1):
        key = (labels[index], *features[index].tolist())
        unused.setdefault(key, []).append(index)
    origin = np.full(len(resampled_y), -1, dtype=np.int64)
    for row in range(len(resampled_y)):
        bucket = unused.get((resampled_y[row], *resampled_x[row].tolist()))
        if bucket:
            origin[row] = bucket.pop()
    return origin


def synthetic_frame(
    train, columns, numeric, origin, resampled_x, resampled_y, name
) -> pl.DataFrame | None:
    """The synthetic rows (origin -1) as a polars frame with the training dtypes, or None."""
    synthetic_rows = np.flatnonzero(origin < 0)
    if synthetic_rows.size == 0:
        return None
    if resampled_x.shape[1] != len(columns.features):
        msg = f"{name} returned encoded features that cannot be mapped back to columns"
        raise SamplerError(msg)
    values = {}
    # Looked up once: `train.schema` is built on each access, and `numeric` is a list.
    schema, numeric = train.schema, set(numeric)
    for index, column in enumerate(columns.features):
        raw = resampled_x[synthetic_rows, index]
        dtype = schema[column]
        if column in numeric:
            series = pl.Series(column, raw.astype(np.float64, copy=False))
            series = series.round(0) if dtype.is_integer() else series
            values[column] = series.cast(dtype)
        elif dtype == pl.Boolean:
            values[column] = pl.Series(column, raw.tolist(), dtype=pl.Boolean)
        else:
            values[column] = pl.Series(column, raw.tolist(), dtype=pl.String).cast(dtype)
    values[columns.label] = pl.Series(
        columns.label, resampled_y[synthetic_rows].tolist(), dtype=schema[columns.label]
    )
    return pl.DataFrame(values).with_columns(pl.lit(True).alias(SYNTHETIC))


def _assemble(train, origin, synthetic) -> pl.DataFrame:
    """Original rows (in training order) from polars, then the synthetic rows."""
    kept = np.sort(origin[origin >= 0])
    # Over-samplers keep every row in order: skip the gather (a copy of the whole table).
    every_row = kept.size == train.height
    originals = (train if every_row else train[kept]).with_columns(pl.lit(False).alias(SYNTHETIC))
    if synthetic is None:
        return originals
    return pl.concat([originals, synthetic], how="diagonal_relaxed").select(originals.columns)


def effective_params(estimator: Any, features: Sequence[str], /) -> dict[str, Any]:
    """The sampler's parameters as the manifest records them: plain values only, categorical
    features by name."""
    effective = {
        key: value for key, value in estimator.get_params(deep=False).items() if is_plain(value)
    }
    if "categorical_features" in effective:
        effective["categorical_features"] = [
            features[index] for index in effective["categorical_features"]
        ]
    return effective


def is_plain(value: Any) -> bool:
    """JSON-friendly param values (estimator objects are described by their own params)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list | tuple):
        return all(is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(is_plain(key) and is_plain(item) for key, item in value.items())
    return False


def _without_contradictions(
    train, synthetic, holdout, estimator, *, columns, numeric, categorical, seed
) -> tuple[pl.DataFrame | None, Conflicts]:
    """The synthetic rows less those identical to an original of another class, with fresh
    draws of the same sampler in their place where it can draw a count per class."""
    if synthetic is None:
        return None, Conflicts(TABLE_IDENTITY)
    from sklearn.base import clone

    name = samplers.sampler_name(estimator)
    labels = train[columns.label].to_numpy()
    sizes = class_counts(train[columns.label])

    def identify(frame: pl.DataFrame) -> pl.Series:
        return table_identity(frame, columns.features)

    @cache
    def matrix() -> Any:
        # Built on the first redraw only (most runs need none), then shared by every round.
        return sampler_matrix(
            train, name, columns=columns, numeric=numeric, categorical=categorical
        )

    def draw(wanted: dict[Any, int], random_state: int) -> pl.DataFrame | None:
        # The same sampler (k as lowered, categorical columns) for these classes only.
        fresh = clone(estimator).set_params(
            sampling_strategy={label: sizes[label] + count for label, count in wanted.items()},
            random_state=random_state,
        )
        features = matrix()
        resampled_x, resampled_y = fresh.fit_resample(features, labels)
        origin = _origin_of_rows(fresh, features, labels, resampled_x, resampled_y)
        return synthetic_frame(train, columns, numeric, origin, resampled_x, resampled_y, name)

    return replace_contradicting(
        synthetic,
        originals=original_identities(train, holdout, identify=identify, label=columns.label),
        label=columns.label,
        identify=identify,
        seed=seed,
        draw=draw if name in REDRAWS else None,
    )

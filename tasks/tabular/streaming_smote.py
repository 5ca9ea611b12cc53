"""SMOTE, SMOTENC and SMOTEN on a training split larger than memory (`streaming.enabled`).

SMOTE makes a class's new rows from that class's rows and their neighbours among
themselves, so only the classes it oversamples are held in memory (a streaming filter of
the split on disk); every original row streams from the split to `train.parquet`, and the
synthetic rows are appended after them, as in memory (`rebalance_table`: originals in
training order, then each oversampled class's new rows in sorted class order). What needs
the other classes comes from streaming queries: SMOTEN's value difference metric (counts
of each category per class, over every row, and the categories of every row for its
encoder), the sampling strategy and k (the label column), and the identities of every
original for contradicting copies. SMOTENC's median of standard deviations is, in imblearn
0.14, over the oversampled class's rows only (`SMOTENC._fit_resample`).

The same random draws happen in the same order as in memory, through the functions that
our vectorised samplers call (`tasks.tabular.vectorised_smote`): each class draws from a
fresh generator seeded with `random_state`, so a class's rows do not depend on the others.
The synthetic rows are therefore the in-memory run's, and so is `train.parquet`
(tests/tabular/test_streaming_smote.py compares them). SMOTE writes its new rows a block
at a time (`BLOCK_ROWS`); SMOTENC and SMOTEN make them all at once (their categories make
a block-wise copy of imblearn's generator a larger change). Contradicting synthetic rows
are redrawn as in memory (`tasks.tabular.redraw.draw_replacements`), the replacements
after the first draw's rows. Only our vectorised classes stream: with other releases of
imblearn or scikit-learn (`samplers.vectorised_fallback`) the split is collected.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance.errors import SamplerError
from tasks.core.classes import class_counts
from tasks.core.columns import SYNTHETIC, Columns
from tasks.core.conflicts import (
    IDENTITY,
    LABEL,
    TABLE_IDENTITY,
    Conflicts,
    contradicting,
    table_identity,
)
from tasks.core.contract import Resampled
from tasks.core.frames import batches, sink_parquet, write_parquet
from tasks.tabular import samplers
from tasks.tabular.kinds import feature_kinds, kind_notes
from tasks.tabular.memory_guard import (
    STREAMED_BLOCK_ROWS,
    refuse_streamed_if_too_large,
    searched_neighbours,
    streamed_smote_estimate,
)
from tasks.tabular.redraw import draw_replacements
from tasks.tabular.resample import effective_params, refuse_identifier_like, synthetic_frame
from tasks.tabular.sampler_setup import (
    are_names,
    fit_neighbours,
    object_matrix,
    positions,
    prepare_sampler,
    sampler_matrix,
)

# SMOTE's new rows made, cast and written at once.
BLOCK_ROWS = STREAMED_BLOCK_ROWS

# New rows of some classes (class -> count) with a random_state: synthetic frames, in order;
# imblearn's ValueError or RuntimeError where it cannot make them.
Generate = Callable[[Mapping[Any, int], int], Iterator[pl.DataFrame]]


def streams_smote(sampler: str, /) -> bool:
    """Whether `sampler` is one of the SMOTE family that streams (our vectorised classes)."""
    return samplers.streams_as_smote(samplers.sampler_class(sampler).__name__)


def resample_smote_streaming(
    train: pl.LazyFrame,
    /,
    *,
    columns: Columns,
    sampler: str,
    params: Mapping[str, Any],
    seed: int,
    output: Path,
    holdout: pl.DataFrame | None = None,
    batch_rows: int,
) -> Resampled:
    """SMOTE (as SMOTENC or SMOTEN on categorical columns) on a training split on disk;
    writes `output` with the rows `rebalance_table` writes.

    Args:
        train: The training split, a scan of a file.
        holdout: `labelled_identities` of val and test (no synthetic row may contradict one).
        batch_rows: Rows read at once to hash the training rows.

    Raises:
        SamplerError: the data or parameters do not suit the sampler, or its arrays cannot
            fit in the memory left; the message says what to change.
    """
    params = dict(params)
    named = params.get("categorical_features")
    if are_names(named):
        positions(named, columns.features)
        declared = tuple(dict.fromkeys([*columns.categorical, *named]))
        columns = dataclasses.replace(columns, categorical=declared)
    if not columns.features:
        msg = f"sampler {sampler} needs at least one feature column; check `features`"
        raise SamplerError(msg)
    numeric, categorical = feature_kinds(train, columns)
    distinct = refuse_identifier_like(train, categorical)
    _refuse_missing_numbers(train, numeric, sampler=sampler)
    label_column = train.select(columns.label).collect(engine="streaming")[columns.label]
    labels = label_column.to_numpy()
    prepared = prepare_sampler(
        sampler, params, columns=columns, numeric=numeric, categorical=categorical, seed=seed
    )
    name, estimator, notes = prepared.name, prepared.estimator, list(prepared.notes)
    note = fit_neighbours(estimator, labels)
    if note:
        notes.append(note)
    if samplers.interpolates(name, estimator.get_params(deep=False)):
        notes += kind_notes(train, numeric, sampler=name)
    strategy = _strategy(estimator, labels, name)
    sizes = class_counts(label_column)
    oversampled = [label for label, count in strategy.items() if count > 0]
    oversampled_rows = sum(sizes[label] for label in oversampled)
    new_rows = sum(strategy.values())
    _refuse_if_too_large(
        name,
        rows=labels.size,
        oversampled_rows=oversampled_rows,
        new_rows=new_rows,
        numeric=numeric,
        categorical=categorical,
        distinct=distinct,
        n_neighbors=searched_neighbours(estimator),
    )
    subset = _oversampled_rows(train, columns.label, oversampled, witness=name == "SMOTENC")
    generate = _generator(
        name, estimator, subset, train, columns=columns, numeric=numeric, categorical=categorical
    )
    del labels
    originals = _original_identities(train, label_column, holdout, columns, batch_rows)
    del label_column

    def draw(wanted: dict[Any, int], random_state: int) -> pl.DataFrame | None:
        frames = list(generate(dict(sorted(wanted.items())), random_state))
        return pl.concat(frames) if frames else None

    schema = train.collect_schema()
    with tempfile.TemporaryDirectory(prefix=".synthetic-", dir=output.parent) as scratch:
        parts: list[Path] = []
        found: dict[Any, int] = {}
        made: dict[Any, int] = {}

        def write(frame: pl.DataFrame) -> None:
            part = Path(scratch) / f"{len(parts):06d}.parquet"
            write_parquet(_with_schema(frame, schema), part)
            parts.append(part)

        for block in _refused_as_sampler_errors(name, generate(strategy, seed)):
            bad = contradicting(
                table_identity(block, columns.features), block[columns.label], originals=originals
            )
            _add_counts(made, class_counts(block[columns.label]))
            if bad.any():
                _add_counts(found, class_counts(block.filter(bad)[columns.label]))
                block = block.filter(~bad)
            write(block)
        conflicts = Conflicts(TABLE_IDENTITY)
        if found:
            replacements, missing = draw_replacements(
                found,
                made,
                originals=originals,
                label=columns.label,
                identify=lambda frame: table_identity(frame, columns.features),
                seed=seed,
                draw=draw,
            )
            for frame in replacements:
                write(frame)
            conflicts = Conflicts.counted(TABLE_IDENTITY, found=found, dropped=missing)
        del originals, subset
        written = [train.with_columns(pl.lit(False).alias(SYNTHETIC))]
        if parts:
            written.append(pl.scan_parquet(parts))
        sink_parquet(pl.concat(written, how="vertical"), output)
    effective = effective_params(estimator, columns.features)
    return Resampled(
        frame=pl.scan_parquet(output),
        requested=sampler,
        sampler=name,
        params=effective,
        categorical=categorical,
        notes=notes,
        conflicts=conflicts,
    )


def _strategy(estimator: Any, labels: np.ndarray, name: str) -> dict[Any, int]:
    """imblearn's `sampling_strategy_` for every training label: new rows per class, sorted."""
    from imblearn.utils import check_sampling_strategy

    try:
        strategy = check_sampling_strategy(estimator.sampling_strategy, labels, "over-sampling")
    except ValueError as exc:
        samplers.raise_sampler_failure(name, exc)
    return dict(strategy)


def _refuse_missing_numbers(train: pl.LazyFrame, numeric: list[str], *, sampler: str) -> None:
    """imblearn refuses NaN and infinity in its numeric input, in any class's rows; the
    streamed path holds some classes only, so it looks for them in every row first."""
    if not numeric:
        return
    bad = [
        (pl.col(name).is_null() | ~pl.col(name).cast(pl.Float64).is_finite()).sum().alias(name)
        for name in numeric
    ]
    counts = train.select(bad).collect(engine="streaming").row(0, named=True)
    for name, count in counts.items():
        if count:
            msg = (
                f"sampler {sampler} failed on the training split: feature column '{name}' "
                f"has {count:,} null, NaN or infinite values, which it cannot interpolate; "
                "set validation.null_policy: drop, or fill or leave out that column"
            )
            raise SamplerError(msg)


def _refuse_if_too_large(
    name, *, rows, oversampled_rows, new_rows, numeric, categorical, distinct, n_neighbors
) -> None:
    needed = streamed_smote_estimate(
        name,
        rows=rows,
        oversampled_rows=oversampled_rows,
        new_rows=new_rows,
        n_numeric=len(numeric),
        n_categorical=len(categorical),
        one_hot_columns=sum(distinct.values()),
        n_neighbors=n_neighbors,
    )
    refuse_streamed_if_too_large(
        sampler=name,
        rows=rows,
        oversampled_rows=oversampled_rows,
        new_rows=new_rows,
        needed=needed,
    )


def _oversampled_rows(
    train: pl.LazyFrame, label: str, oversampled: list[Any], *, witness: bool
) -> pl.DataFrame:
    """The rows of the classes to oversample, in training order.

    imblearn refuses a target with one class: for SMOTENC, which runs imblearn's
    `fit_resample` on these rows, one row of another class comes too (first in training
    order). It is never searched nor interpolated.
    """
    wanted = pl.Series(oversampled, dtype=train.collect_schema()[label]).implode()
    chosen = pl.col(label).is_in(wanted)
    if witness:
        first_other = (~chosen).cast(pl.UInt32).cum_sum() == 1
        chosen = chosen | (~chosen & first_other)
    return train.filter(chosen).collect(engine="streaming")


def _generator(name, estimator, subset, train, *, columns, numeric, categorical) -> Generate:
    """The new rows of some classes, as `rebalance_table` would make them from every row."""
    y = subset[columns.label].to_numpy()

    def frame_of(X_new: np.ndarray, y_new: np.ndarray) -> pl.DataFrame:
        origin = np.full(y_new.size, -1)
        return synthetic_frame(subset, columns, numeric, origin, X_new, y_new, name)

    if name == "SMOTE":
        X = sampler_matrix(subset, name, columns=columns, numeric=numeric, categorical=[])

        def generate_smote(strategy, random_state):
            for X_new, label in _smote_blocks(estimator, X, y, strategy, random_state):
                yield frame_of(X_new, np.full(X_new.shape[0], label, dtype=y.dtype))

        return generate_smote
    X = object_matrix(subset, columns.features, numeric)
    if name == "SMOTENC":
        sizes = class_counts(subset[columns.label])

        def generate_smotenc(strategy, random_state):
            from sklearn.base import clone

            targets = {label: sizes[label] + count for label, count in strategy.items()}
            fresh = clone(estimator).set_params(
                sampling_strategy=targets, random_state=random_state
            )
            X_all, y_all = fresh.fit_resample(X, y)
            if y_all.size > y.size:
                yield frame_of(X_all[y.size :], y_all[y.size :])

        return generate_smotenc
    encoder, tables = _value_difference_tables(train, columns)
    X_encoded = encoder.transform(X)

    def generate_smoten(strategy, random_state):
        from sklearn.base import clone

        fresh = clone(estimator).set_params(random_state=random_state)
        fresh._validate_estimator()
        fresh.categorical_encoder_ = encoder
        new = fresh.new_samples(X_encoded, y, strategy, tables=tables)
        if new is None:
            msg = "a class to oversample has fewer rows than k_neighbors + 1"
            raise ValueError(msg)
        for X_new, y_new in zip(*new, strict=True):
            yield frame_of(X_new, y_new)

    return generate_smoten


def _refused_as_sampler_errors(name: str, frames: Iterator[pl.DataFrame]):
    """The first draw's frames; imblearn's errors as one SamplerError line, as in memory.
    (The redraws let them through: `draw_replacements` stops drawing on them.)"""
    try:
        yield from frames
    except (ValueError, RuntimeError) as exc:
        samplers.raise_sampler_failure(name, exc)


def _smote_blocks(estimator, X, y, strategy, random_state) -> Iterator[tuple[np.ndarray, Any]]:
    """VectorisedSMOTE's new rows of each class in `strategy`, `BLOCK_ROWS` at a time."""
    from sklearn.base import clone

    from tasks.tabular.vectorised_smote import interpolate_block

    fresh = clone(estimator).set_params(random_state=random_state)
    fresh._validate_estimator()
    for class_sample, X_class, nns, (rows, cols, steps) in fresh.class_draws(X, y, strategy):
        for start in range(0, rows.size, BLOCK_ROWS):
            block = slice(start, start + BLOCK_ROWS)
            out = np.empty((rows[block].size, X.shape[1]), dtype=X.dtype)
            interpolate_block(X_class, nns, rows[block], cols[block], steps[block], out=out)
            yield out, class_sample


def _value_difference_tables(train: pl.LazyFrame, columns: Columns):
    """SMOTEN's encoder and VDM tables as `VectorisedSMOTEN` fits them on every row, from
    streaming queries: each column's distinct values, and each (value, class) pair's count.

    The encoder is fitted on the distinct values (its categories are their sorted set, as
    on every row); the counts go through imblearn's arithmetic (`vdm_probabilities`).
    """
    from imblearn.metrics.pairwise import ValueDifferenceMetric
    from sklearn.preprocessing import OrdinalEncoder
    from sklearn.utils.multiclass import unique_labels

    from tasks.tabular.vectorised_smote import vdm_probabilities, vdm_tables

    features, label = columns.features, columns.label
    schema = train.collect_schema()
    # One query per feature: the split is columnar, so each reads its column and the label.
    counts = [
        train.group_by(name, label).agg(pl.len().alias("count")).collect(engine="streaming")
        for name in features
    ]
    values = [
        frame[name].unique(maintain_order=True)
        for frame, name in zip(counts, features, strict=True)
    ]
    longest = max(series.len() for series in values)
    # Each column's distinct values, padded with its first: the same cells `object_matrix`
    # makes of the training rows (cast as there), in a matrix of `longest` rows.
    distinct = pl.DataFrame(
        [series.extend_constant(series[0], longest - series.len()) for series in values]
    ).cast({name: schema[name] for name in features})
    distinct_matrix = object_matrix(distinct, features, [])
    encoder = OrdinalEncoder(dtype=np.int32)
    try:
        encoder.fit(distinct_matrix)
    except (ValueError, RuntimeError) as exc:
        samplers.raise_sampler_failure("SMOTEN", exc)
    codes = encoder.transform(distinct_matrix)
    labels = train.select(label).unique().collect(engine="streaming")[label]
    classes = unique_labels(labels.to_numpy())
    class_index = {value: index for index, value in enumerate(classes.tolist())}
    per_feature = []
    for feature, (frame, name) in enumerate(zip(counts, features, strict=True)):
        code_of = pl.DataFrame(
            {name: values[feature], "__code": codes[: values[feature].len(), feature]}
        )
        coded = frame.join(code_of, on=name, how="left", nulls_equal=True)
        count = np.zeros((len(encoder.categories_[feature]), classes.size), dtype=np.float64)
        at_class = np.array([class_index[value] for value in coded[label].to_list()], dtype=int)
        np.add.at(count, (coded["__code"].to_numpy(), at_class), coded["count"].to_numpy())
        per_feature.append(count)
    vdm = ValueDifferenceMetric(n_categories=[len(c) for c in encoder.categories_])
    tables = vdm_tables(vdm_probabilities(per_feature), k=vdm.k, r=vdm.r)
    return encoder, tables


def _original_identities(train, label_column, holdout, columns, batch_rows) -> pl.DataFrame:
    """The (identity, label) pair of every training row (hashed a batch at a time) and
    `holdout`'s: what `contradicting` compares with. Not made distinct, as
    `labelled_identities` does (repeated pairs give the same answer there): its hash
    table would hold every training row again."""
    features = train.select(columns.features)
    keys = [table_identity(batch, columns.features) for batch in batches(features, rows=batch_rows)]
    own = pl.DataFrame({IDENTITY: pl.concat(keys), LABEL: label_column})
    del keys
    if holdout is None or holdout.is_empty():
        return own
    holdout = holdout.select(
        pl.col(IDENTITY).cast(own.schema[IDENTITY]), pl.col(LABEL).cast(own.schema[LABEL])
    )
    return pl.concat([own, holdout])


def _with_schema(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Synthetic rows with every training column (id, group, others: null), in its order,
    as `rebalance_table` assembles them."""
    missing = [
        pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame
    ]
    return frame.with_columns(missing).select([*schema.names(), SYNTHETIC])


def _add_counts(total: dict[Any, int], counts: Mapping[Any, int]) -> None:
    for name, count in counts.items():
        total[name] = total.get(name, 0) + count

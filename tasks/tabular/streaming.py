"""Samplers on a training split larger than memory (`streaming.enabled`).

RandomUnderSampler and RandomOverSampler (without shrinkage) only choose rows: imblearn
chooses them from the labels, and a streaming query writes them. Their rows are the same
as in memory; the copies an over-sampler adds come in training order rather than in
imblearn's draw order. Copies of a row whose features an original of another class also
has are redrawn or dropped as in memory (`tasks.tabular.redraw`). SMOTE, SMOTENC and
SMOTEN stream too, holding only the rows of the classes they oversample
(`tasks.tabular.streaming_smote`). Every other sampler (BorderlineSMOTE, SVMSMOTE, ADASYN,
KMeansSMOTE, the cleaning samplers, ...) needs the training split in memory: it is
collected and goes through `tasks.tabular.resample.rebalance_table` (memory guard included).
The streamed ingest, null check and split live with their in-memory versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tasks.core.columns import SYNTHETIC, Columns
from tasks.core.conflicts import BATCH_ROWS, TABLE_IDENTITY, Conflicts
from tasks.core.contract import Resampled
from tasks.core.frames import ROW, rows_at, sink_parquet
from tasks.tabular import samplers
from tasks.tabular.kinds import categorical_features
from tasks.tabular.redraw import replace_contradicting_copies
from tasks.tabular.resample import effective_params
from tasks.tabular.streaming_smote import resample_smote_streaming, streams_smote

# Samplers that only choose rows (imblearn draws them from the labels alone).
ROW_CHOOSERS = ("RandomUnderSampler", "RandomOverSampler")


def streams(sampler: str, params: Mapping[str, Any], /) -> bool:
    """Whether the sampler can rebalance a training split that is not in memory."""
    if sampler.lower() == samplers.NO_SAMPLER:
        return True
    name = samplers.sampler_class(sampler).__name__
    if streams_smote(name):
        return True
    return name in ROW_CHOOSERS and params.get("shrinkage") is None


def resample_streaming(
    train: pl.LazyFrame,
    /,
    *,
    columns: Columns,
    sampler: str,
    params: Mapping[str, Any],
    seed: int,
    output: Path,
    holdout: pl.DataFrame | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Resampled:
    """Random under- or over-sampling (or SMOTE) of a training split on disk; writes `output`.

    Rows chosen once are the originals (in training order); rows chosen again are copies
    (`is_synthetic`, in training order, id and group columns empty as for any synthetic
    row), after the originals. `holdout` holds val's and test's `labelled_identities`, for
    the copies that would contradict one; `batch_rows` rows are read at once to find them.

    SMOTE, SMOTENC and SMOTEN go to `resample_smote_streaming`.

    Raises:
        SamplerError: imblearn refuses the sampling strategy for these classes.
    """
    if sampler.lower() != samplers.NO_SAMPLER and streams_smote(sampler):
        return resample_smote_streaming(
            train,
            columns=columns,
            sampler=sampler,
            params=params,
            seed=seed,
            output=output,
            holdout=holdout,
            batch_rows=batch_rows,
        )
    originals = train.with_columns(pl.lit(False).alias(SYNTHETIC))
    # These samplers never read a feature value; the kinds are for the manifest and the
    # training job (declared integer codes one-hot encoded there too).
    categorical = categorical_features(train, columns)
    if sampler.lower() == samplers.NO_SAMPLER:
        sink_parquet(originals, output)
        return Resampled(
            frame=pl.scan_parquet(output),
            requested=sampler,
            sampler=None,
            params={},
            categorical=categorical,
            conflicts=Conflicts(TABLE_IDENTITY),
        )
    name = samplers.sampler_class(sampler).__name__
    estimator = samplers.build_sampler(name, dict(params), seed=seed)
    label_column = train.select(columns.label).collect(engine="streaming")[columns.label]
    labels = label_column.to_numpy()
    # imblearn draws these samplers' rows from the labels alone: row numbers stand in for X.
    positions = np.arange(labels.size).reshape(-1, 1)
    try:
        estimator.fit_resample(positions, labels)
    except (ValueError, RuntimeError) as exc:
        samplers.raise_sampler_failure(name, exc)
    chosen = np.bincount(estimator.sample_indices_, minlength=labels.size)
    del labels, positions
    parts = [rows_at(originals, np.flatnonzero(chosen > 0))]
    extra, conflicts = replace_contradicting_copies(
        np.maximum(chosen - 1, 0),
        train=train,
        labels=label_column,
        holdout=holdout,
        columns=columns,
        estimator=estimator,
        seed=seed,
        batch_rows=batch_rows,
    )
    del label_column
    if extra.any():
        parts.append(_copies(train, np.repeat(np.arange(extra.size), extra), columns))
    sink_parquet(pl.concat(parts, how="vertical"), output)
    effective = effective_params(estimator, columns.features)
    return Resampled(
        frame=pl.scan_parquet(output),
        requested=sampler,
        sampler=name,
        params=effective,
        categorical=categorical,
        conflicts=conflicts,
    )


def _copies(train: pl.LazyFrame, positions: np.ndarray, columns: Columns) -> pl.LazyFrame:
    """The rows at sorted `positions` (repeats allowed), marked synthetic, in order."""
    indexed = train.with_row_index(ROW)
    schema = indexed.collect_schema()
    wanted = pl.DataFrame({ROW: pl.Series(positions).cast(schema[ROW])}).lazy()
    # Build the join's table on the positions (the smaller side); keep the training order.
    copies = indexed.join(wanted, on=ROW, how="inner", maintain_order="left").drop(ROW)
    emptied = [
        pl.lit(None, dtype=schema[name]).alias(name)
        for name in (columns.id_column, columns.group_column)
        if name is not None and name not in (columns.label, *columns.features)
    ]
    return copies.with_columns(*emptied, pl.lit(True).alias(SYNTHETIC))

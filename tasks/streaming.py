"""Tables larger than memory: the split and random samplers on polars' streaming engine.

With `streaming.enabled` the tabular modality passes polars LazyFrames between steps
instead of DataFrames. What must be in memory at once is one batch of rows, plus one or
two values per row: the label and the key that keeps duplicates (or a group) in one split.
The split is computed from those two columns by the same code as in memory
(`tasks.split.assign_splits`), so it assigns every row to the same split; each split is
then written by a streaming query that filters the source by row position.

RandomUnderSampler and RandomOverSampler (without shrinkage) only choose rows: imblearn
chooses them from the labels, and a streaming query writes them. Their rows are the same
as in memory; the copies an over-sampler adds come in training order rather than in
imblearn's draw order. Every other sampler needs the training split in memory: it is
collected and goes through `tasks.tabular.rebalance_table` (memory guard included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance.config import SPLITS
from tasks import samplers
from tasks.ingest import READERS, Columns, read_error
from tasks.modality import SYNTHETIC, Resampled
from tasks.split import SplitResult, assign_splits
from tasks.tabular import is_plain

# The table as ingested, and the training split as split, inside the run folder while the
# run needs them. The dot keeps them out of manifest.json's file list; `verify` removes
# them before the folder is published.
INGESTED_FILE = ".ingested.parquet"
SPLIT_TRAIN_FILE = ".split-train.parquet"
SCRATCH_FILES = (INGESTED_FILE, SPLIT_TRAIN_FILE)
ROW = "__rebalance_row"
# Samplers that only choose rows (imblearn draws them from the labels alone).
ROW_CHOOSERS = ("RandomUnderSampler", "RandomOverSampler")


@contextmanager
def reading(source: Path) -> Iterator[None]:
    """Turn a polars error while the source is read into `read_table`'s one-line DataError.

    An error from the operating system (a full disk while the scratch copy is written, a
    flaky share) stays an OSError: it is not the data's fault, and the step is retried.
    """
    try:
        yield
    except pl.exceptions.PolarsError as exc:
        if "(os error" in str(exc):
            raise OSError(str(exc).strip().splitlines()[0]) from exc
        raise read_error(source, READERS.get(source.suffix.lower(), "table"), exc) from exc


def batches(frame: pl.DataFrame | pl.LazyFrame, /, *, rows: int) -> Iterator[pl.DataFrame]:
    """The frame's rows in order, at most `rows` at a time, read by the streaming engine."""
    yield from frame.lazy().collect_batches(chunk_size=rows, maintain_order=True)


def sink_parquet(frame: pl.LazyFrame, path: Path, /) -> None:
    """`write_parquet`'s settings for a streaming query (in order, so reruns give equal bytes)."""
    frame.sink_parquet(path, compression="zstd", statistics=True, maintain_order=True)


def split_streaming(
    frame: pl.LazyFrame,
    /,
    *,
    label: str,
    fractions: Mapping[str, float],
    seed: int,
    group_keys: Callable[[pl.DataFrame], pl.Series | None],
    run_dir: Path,
    batch_rows: int,
) -> SplitResult:
    """`split_frame` for a table read in batches; writes the three splits as parquet.

    val and test go to `<split>.parquet`, train to `SPLIT_TRAIN_FILE`; the result holds
    LazyFrames that scan them.

    Raises:
        DataError: a class cannot appear in every split (too few rows or groups).
    """
    labels, keys = [], []
    for batch in batches(frame, rows=batch_rows):
        labels.append(batch[label])
        batch_keys = group_keys(batch)
        if batch_keys is not None:
            keys.append(batch_keys)
    assigned = assign_splits(
        pl.concat(labels),
        fractions=fractions,
        seed=seed,
        group_keys=pl.concat(keys) if keys else None,
    )
    del labels, keys
    paths = {split: run_dir / f"{split}.parquet" for split in SPLITS}
    paths["train"] = run_dir / SPLIT_TRAIN_FILE
    for split, path in paths.items():
        sink_parquet(_rows_at(frame, assigned.rows(split)), path)
    scans = {split: pl.scan_parquet(path) for split, path in paths.items()}
    return SplitResult(**scans, grouped_rows=assigned.grouped_rows, groups=assigned.groups)


def _rows_at(frame: pl.LazyFrame, positions: np.ndarray) -> pl.LazyFrame:
    """The rows at sorted `positions`, in order."""
    indexed = frame.with_row_index(ROW)
    wanted = pl.Series(positions).cast(indexed.collect_schema()[ROW])
    return indexed.filter(pl.col(ROW).is_in(wanted.implode())).drop(ROW)


def streams(sampler: str, params: Mapping[str, Any], /) -> bool:
    """Whether the sampler can rebalance a training split that is not in memory."""
    if sampler.lower() == samplers.NO_SAMPLER:
        return True
    name = samplers.sampler_class(sampler).__name__
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
) -> Resampled:
    """Random under- or over-sampling of a training split on disk; writes `output`.

    Rows chosen once are the originals (in training order); rows chosen again are copies
    (`is_synthetic`, in training order, id and group columns empty as for any synthetic
    row), after the originals.

    Raises:
        SamplerError: imblearn refuses the sampling strategy for these classes.
    """
    originals = train.with_columns(pl.lit(False).alias(SYNTHETIC))
    if sampler.lower() == samplers.NO_SAMPLER:
        sink_parquet(originals, output)
        return Resampled(frame=pl.scan_parquet(output), requested=sampler, sampler=None, params={})
    name = samplers.sampler_class(sampler).__name__
    estimator = samplers.build_sampler(name, dict(params), seed=seed)
    labels = train.select(columns.label).collect(engine="streaming")[columns.label].to_numpy()
    # imblearn draws these samplers' rows from the labels alone: row numbers stand in for X.
    positions = np.arange(labels.size).reshape(-1, 1)
    try:
        estimator.fit_resample(positions, labels)
    except (ValueError, RuntimeError) as exc:
        samplers.raise_sampler_failure(name, exc)
    chosen = np.bincount(estimator.sample_indices_, minlength=labels.size)
    del labels, positions
    parts = [_rows_at(originals, np.flatnonzero(chosen > 0))]
    extra = np.maximum(chosen - 1, 0)
    if extra.any():
        parts.append(_copies(train, np.repeat(np.arange(extra.size), extra), columns))
    sink_parquet(pl.concat(parts, how="vertical"), output)
    effective = {
        key: value for key, value in estimator.get_params(deep=False).items() if is_plain(value)
    }
    return Resampled(
        frame=pl.scan_parquet(output), requested=sampler, sampler=name, params=effective
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

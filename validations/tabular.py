"""Checks run on the whole table before it is split."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from rebalance.errors import DataError, ValidationFailed
from tasks.core.classes import check_class_sizes, class_counts
from tasks.core.columns import Columns
from tasks.core.contract import Checked
from tasks.core.frames import batches, sink_parquet
from tasks.core.tables import reading
from validations.drops import (
    NullDrop,
    check_classes_left,
    check_drop_fraction,
    columns_with_nulls,
    tolerated_nulls,
)
from validations.expectations import Declared, check_outcomes
from validations.null_check import NullCheckResult, check_nulls, check_nulls_in_batches

# What to do about the columns whose nulls a `drop` policy removes too many rows for.
DROP_FIX = "fill those nulls, or leave the column out of `features`"


def validate_table(
    frame: pl.DataFrame,
    /,
    *,
    columns: Columns,
    null_policy: str,
    dataset: str,
    output_dir: Path,
    max_drop_fraction: float = 1.0,
    expectations: Sequence[Declared] = (),
) -> Checked:
    """Null check and the config's expectations (Great Expectations), finite numbers, and
    enough rows per class.

    Under `null_policy="drop"` rows with a null (or a float NaN, which Great Expectations
    counts as null too) in a used column are removed and counted, up to `max_drop_fraction`
    of the rows (1.0: no limit; the config's default is 0.2).

    Raises:
        ValidationFailed: nulls under `null_policy="fail"`, naming each column and count,
            an expectation of severity `fail` not met, naming it and what GX observed, or
            a drop of more than `max_drop_fraction` of the rows, naming the columns.
        DataError: infinite values, no row without nulls (under `drop`), a single class, or
            a class too small to split (naming the drop when it caused that).
    """
    result = check_nulls(
        frame,
        columns=columns.kept,
        dataset=dataset,
        output_dir=output_dir,
        expectations=expectations,
        max_drop_fraction=tolerated_nulls(null_policy, max_drop_fraction),
    )
    with_nulls = {name: count for name, count in result.null_counts.items() if count}
    rows_dropped = 0
    if with_nulls and null_policy == "fail":
        raise _nulls_found(with_nulls, result)
    check_outcomes(result.outcomes, dataset=dataset)
    if with_nulls:
        schema = frame.schema  # built on each access: once, not once per column
        kept = frame.filter(~pl.any_horizontal(_missing(schema, name) for name in with_nulls))
        rows_dropped = frame.height - kept.height
        if kept.is_empty():
            raise _nothing_left(frame.height, with_nulls)
        drop = NullDrop(frame.height, rows_dropped, with_nulls, fix=DROP_FIX)
        check_drop_fraction(drop, max_fraction=max_drop_fraction)
        check_classes_left(
            class_counts(kept[columns.label]),
            read_counts=class_counts(frame[columns.label]),
            label=columns.label,
            drop=drop,
        )
        frame = kept
    for name, infinite in _infinite_counts(frame, columns).items():
        raise _infinite_values(name, infinite)
    counts = class_counts(frame[columns.label])
    check_class_sizes(counts, label=columns.label)
    return Checked(
        frame=frame,
        rows_dropped=rows_dropped,
        null_counts=result.null_counts,
        class_counts=counts,
        rows_dropped_for_nulls=rows_dropped,
        expectations=tuple(outcome.as_manifest() for outcome in result.outcomes),
    )


def validate_table_batches(
    frame: pl.LazyFrame,
    /,
    *,
    columns: Columns,
    null_policy: str,
    dataset: str,
    output_dir: Path,
    batch_rows: int,
    source: Path,
    scratch: Path,
    max_drop_fraction: float = 1.0,
    expectations: Sequence[Declared] = (),
) -> Checked:
    """`validate_table` for a table read `batch_rows` rows at a time (streaming).

    The table is first written to `scratch` (parquet) by polars' native sink, and every
    later pass reads that file: polars' streaming engine reads ahead of a slow Python
    consumer such as Great Expectations, and from a CSV it read the whole file ahead,
    while a parquet scan keeps a bounded buffer. Great Expectations checks each batch; the
    class counts, infinite values and the rows a `drop` policy removes are counted batch
    by batch, so the `drop` limit is judged once every batch is read, before the split
    writes anything. The returned frame scans `scratch` (with the `drop` filter applied).

    Raises:
        ValidationFailed, DataError: as `validate_table`.
    """
    with reading(source):
        sink_parquet(frame, scratch)
    frame = pl.scan_parquet(scratch)
    schema = frame.collect_schema()
    missing = ~pl.any_horizontal(_missing(schema, name) for name in columns.kept)
    kept_rows = read_rows = 0
    infinite: dict[str, int] = {}
    label_counts: list[pl.DataFrame] = []
    # The classes as read, before the drop: to say when the drop emptied one.
    read_label_counts: list[pl.DataFrame] = []

    def counted_batches() -> Iterator[pl.DataFrame]:
        nonlocal kept_rows, read_rows
        for batch in batches(frame, rows=batch_rows):
            read_rows += batch.height
            kept = batch.filter(missing) if null_policy == "drop" else batch
            kept_rows += kept.height
            for name, count in _infinite_counts(kept, columns).items():
                infinite[name] = infinite.get(name, 0) + count
            label_counts.append(kept[columns.label].value_counts(sort=False))
            if null_policy == "drop":
                read_label_counts.append(batch[columns.label].value_counts(sort=False))
            yield batch

    with reading(source):
        result = check_nulls_in_batches(
            counted_batches(),
            columns=columns.kept,
            dataset=dataset,
            output_dir=output_dir,
            expectations=expectations,
            max_drop_fraction=tolerated_nulls(null_policy, max_drop_fraction),
        )
    with_nulls = {name: count for name, count in result.null_counts.items() if count}
    if with_nulls and null_policy == "fail":
        raise _nulls_found(with_nulls, result)
    check_outcomes(result.outcomes, dataset=dataset)
    if with_nulls and kept_rows == 0:
        raise _nothing_left(read_rows, with_nulls)
    counts = _summed(label_counts, columns.label)
    if with_nulls:
        drop = NullDrop(read_rows, read_rows - kept_rows, with_nulls, fix=DROP_FIX)
        check_drop_fraction(drop, max_fraction=max_drop_fraction)
        check_classes_left(
            counts,
            read_counts=_summed(read_label_counts, columns.label),
            label=columns.label,
            drop=drop,
        )
    for name, count in infinite.items():
        raise _infinite_values(name, count)
    check_class_sizes(counts, label=columns.label)
    return Checked(
        frame=frame.filter(missing) if with_nulls else frame,
        rows_dropped=read_rows - kept_rows,
        null_counts=result.null_counts,
        class_counts=counts,
        rows_dropped_for_nulls=read_rows - kept_rows,
        expectations=tuple(outcome.as_manifest() for outcome in result.outcomes),
    )


def _summed(label_counts: list[pl.DataFrame], label: str) -> dict[object, int]:
    """The batches' counts summed, in class_counts' order (polars' sort of the label)."""
    summed = pl.concat(label_counts).group_by(label).agg(pl.col("count").sum()).sort(label)
    return dict(zip(summed[label].to_list(), summed["count"].to_list(), strict=True))


def _nulls_found(with_nulls: dict[str, int], result: NullCheckResult) -> ValidationFailed:
    listed = columns_with_nulls(with_nulls)
    return ValidationFailed(
        f"null values in {listed}; fix the data or set validation.null_policy: drop "
        f"(details in {result.result_path.name} and the dataset's Data Docs)"
    )


def _nothing_left(rows: int, with_nulls: dict[str, int]) -> DataError:
    listed = columns_with_nulls(with_nulls)
    return DataError(
        f"every one of the {rows} rows has a null in a used column ({listed}), "
        "so validation.null_policy: drop leaves nothing; fix the data or leave the "
        "emptiest columns out of `features`"
    )


def _infinite_values(name: str, count: int) -> DataError:
    return DataError(
        f"feature column '{name}' holds {count} infinite values; samplers need "
        "finite numbers: fix or drop those rows, or leave the column out of `features`"
    )


def _missing(schema: pl.Schema, name: str) -> pl.Expr:
    if schema[name].is_float():
        return pl.col(name).is_null() | pl.col(name).is_nan()
    return pl.col(name).is_null()


def _infinite_counts(frame: pl.DataFrame, columns: Columns) -> dict[str, int]:
    """Infinite values per float feature column, for the columns that hold any."""
    schema = frame.schema  # built on each access: once, not once per column
    floats = [name for name in columns.features if schema[name].is_float()]
    if not floats:
        return {}
    found = frame.select(pl.col(name).is_infinite().sum() for name in floats).row(0)
    return {name: int(count) for name, count in zip(floats, found, strict=True) if count}

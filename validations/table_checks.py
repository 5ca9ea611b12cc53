"""Checks run on the whole table before it is split."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from rebalance.errors import DataError, ValidationFailed
from tasks.ingest import Columns
from tasks.modality import CheckedTable
from tasks.split import check_class_sizes, class_counts
from validations.null_check import check_nulls


def validate_table(
    frame: pl.DataFrame,
    /,
    *,
    columns: Columns,
    null_policy: str,
    dataset: str,
    output_dir: Path,
) -> CheckedTable:
    """Null check (Great Expectations), finite numbers, and enough rows per class.

    Under `null_policy="drop"` rows with a null (or a float NaN, which Great Expectations
    counts as null too) in a used column are removed and counted.

    Raises:
        ValidationFailed: nulls under `null_policy="fail"`, naming each column and count.
        DataError: infinite values, no row without nulls (under `drop`), a single class, or
            a class too small to split.
    """
    result = check_nulls(frame, columns=columns.kept, dataset=dataset, output_dir=output_dir)
    with_nulls = {name: count for name, count in result.null_counts.items() if count}
    rows_dropped = 0
    if with_nulls and null_policy == "fail":
        listed = ", ".join(f"'{name}' ({count})" for name, count in with_nulls.items())
        msg = (
            f"null values in {listed}; fix the data or set validation.null_policy: drop "
            f"(details in {result.data_docs_index.name} of the validation report)"
        )
        raise ValidationFailed(msg)
    if with_nulls:
        kept = frame.filter(~pl.any_horizontal(_missing(frame, name) for name in with_nulls))
        rows_dropped = frame.height - kept.height
        if kept.is_empty():
            listed = ", ".join(f"'{name}' ({count})" for name, count in with_nulls.items())
            msg = (
                f"every one of the {frame.height} rows has a null in a used column ({listed}), "
                "so validation.null_policy: drop leaves nothing; fix the data or leave the "
                "emptiest columns out of `features`"
            )
            raise DataError(msg)
        frame = kept
    _check_finite(frame, columns)
    counts = class_counts(frame[columns.label])
    check_class_sizes(counts, label=columns.label)
    return CheckedTable(
        frame=frame,
        rows_dropped=rows_dropped,
        null_counts=result.null_counts,
        class_counts=counts,
    )


def _missing(frame: pl.DataFrame, name: str) -> pl.Expr:
    if frame.schema[name].is_float():
        return pl.col(name).is_null() | pl.col(name).is_nan()
    return pl.col(name).is_null()


def _check_finite(frame: pl.DataFrame, columns: Columns) -> None:
    for name in columns.features:
        if frame.schema[name].is_float():
            infinite = frame[name].is_infinite().sum()
            if infinite:
                msg = (
                    f"feature column '{name}' holds {infinite} infinite values; samplers need "
                    "finite numbers: fix or drop those rows, or leave the column out of `features`"
                )
                raise DataError(msg)

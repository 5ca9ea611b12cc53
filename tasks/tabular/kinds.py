"""Which feature columns of a table are numeric and which categorical, and the numeric ones
that look like category codes or row ids to a sampler that interpolates.

A column is categorical when its dtype is (string, categorical, enum, boolean) or when the
config declares it (`categorical_columns`, carried in `Columns.categorical`): integer codes
such as a 0/1 sex or card suits 1-4 are numbers to polars but categories to the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from rebalance.errors import SamplerError
from tasks.core.columns import Columns
from tasks.core.frames import row_count

# At most this many distinct whole numbers, and a numeric column looks like category codes.
MAX_CODES = 10
# The values a note lists at most.
_SHOWN = 10


def feature_kinds(
    frame: pl.DataFrame | pl.LazyFrame, columns: Columns, /
) -> tuple[list[str], list[str]]:
    """Split feature columns into numeric and categorical, in feature order.

    Categorical: string, categorical, enum and boolean columns, and the columns declared in
    `columns.categorical` whatever their dtype. Reads the schema only.

    Raises:
        SamplerError: a feature column has a type samplers cannot use (dates, lists, ...).
    """
    numeric, categorical, unusable = _kinds(frame, columns)
    if unusable:
        name, dtype = unusable[0]
        msg = (
            f"feature column '{name}' has type {dtype}, which samplers cannot use; "
            "leave it out of `features` or convert it to a number or a string"
        )
        raise SamplerError(msg)
    return numeric, categorical


def categorical_features(frame: pl.DataFrame | pl.LazyFrame, columns: Columns, /) -> list[str]:
    """`feature_kinds`' categorical columns, for a run whose sampler reads no features (none,
    streamed random samplers): a column of another type is no error there."""
    return _kinds(frame, columns)[1]


def _kinds(frame: pl.DataFrame | pl.LazyFrame, columns: Columns):
    numeric, categorical, unusable = [], [], []
    schema = frame.collect_schema()
    declared = set(columns.categorical)
    for name in columns.features:
        dtype = schema[name]
        typed = dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum)
        if typed or (name in declared and dtype.is_numeric()):
            categorical.append(name)
        elif dtype.is_numeric():
            numeric.append(name)
        else:
            unusable.append((name, dtype))
    return numeric, categorical, unusable


def kind_notes(
    train: pl.DataFrame | pl.LazyFrame, numeric: Sequence[str], /, *, sampler: str
) -> list[str]:
    """Notes on numeric features that a sampler which interpolates should not interpolate.

    A column looks like a row id when every training row holds a distinct whole number and
    the values rise (or fall) in row order; it looks categorical when it holds 2 to
    `MAX_CODES` distinct values, all whole numbers. Each note names the column, why, and
    the key to set. A LazyFrame (a streamed split) is read by streaming queries, a column
    at a time where a column is needed.
    """
    lazy = train.lazy()
    height = row_count(train)
    if not numeric or height == 0:
        return []
    schema = lazy.collect_schema()  # built on each access: once, not once per column
    # Whole numbers first, then distinct values of those columns only: counting the
    # distinct values of every float column holds a hash set of each (GBs at 10M rows).
    floats = [name for name in numeric if not schema[name].is_integer()]
    whole_floats = {}
    if floats:
        whole_floats = (
            lazy.select(
                (pl.col(name).cast(pl.Float64) == pl.col(name).cast(pl.Float64).round(0)).all()
                for name in floats
            )
            .collect(engine="streaming")
            .row(0, named=True)
        )
    wholes = [name for name in numeric if whole_floats.get(name, True)]
    distinct_values = {}
    if wholes:
        distinct_values = (
            lazy.select(pl.col(name).n_unique() for name in wholes)
            .collect(engine="streaming")
            .row(0, named=True)
        )
    notes = []
    for name in wholes:
        distinct = distinct_values[name]
        order = _order(_column(lazy, name)) if distinct == height > 2 else None
        if order is not None:
            notes.append(
                f"feature column '{name}' looks like a row id (a distinct whole number in "
                f"each of the {height} training rows, {order} in row order), yet "
                f"{sampler} uses it as a feature and interpolates it; set it as "
                "`id_column`, or add it to `ignored_columns`"
            )
        elif 2 <= distinct <= MAX_CODES:
            values = _column(lazy.select(pl.col(name).unique()), name).sort()
            shown = ", ".join(_plain(value) for value in values[:_SHOWN])
            notes.append(
                f"feature column '{name}' looks categorical ({distinct} distinct whole "
                f"numbers: {shown}), yet {sampler} interpolates it, so synthetic rows get "
                "values between its codes; if it is a code, add it to `categorical_columns`"
            )
    return notes


def _column(frame: pl.LazyFrame, name: str) -> pl.Series:
    return frame.select(name).collect(engine="streaming")[name]


def _order(values: pl.Series) -> str | None:
    if values.is_sorted():
        return "increasing"
    if values.is_sorted(descending=True):
        return "decreasing"
    return None


def _plain(value: object) -> str:
    # 1.0 reads as the code 1 it stands for.
    return str(int(value)) if isinstance(value, float) else str(value)

"""Reading a table for the tabular modality: the source, its columns, and number columns that
a few stray values turned into text."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from rebalance.config import TabularConfig
from rebalance.errors import DataError
from tasks.core.columns import Columns
from tasks.core.contract import Ingested
from tasks.core.files import file_sha256
from tasks.core.frames import row_count
from tasks.core.tables import (
    check_json_types,
    no_rows,
    read_table,
    reading,
    scan_table,
    select_columns,
)


def ingest_table(config: TabularConfig, /) -> Ingested:
    """Read the source (lazily when streaming) and keep the run's columns.

    Raises:
        DataError: the source cannot be read, has no rows, lacks a named column, or holds
            numbers stored as text.
    """
    if config.streaming.enabled:
        frame = scan_table(config.source, separator=config.separator)
    else:
        frame = read_table(config.source, separator=config.separator)
    with reading(config.source):
        rows_read = row_count(frame)
        if rows_read == 0:
            raise no_rows(config.source)
        frame, columns = select_columns(
            frame,
            label=config.label,
            features=config.features,
            id_column=config.id_column,
            group_column=config.split.group_column,
            source=config.source,
            ignored=config.ignored_columns,
            categorical=config.declared_categorical,
        )
        schema = frame.collect_schema()
        check_json_types(
            config.source, [name for name in columns.kept if schema[name] == pl.String]
        )
        check_numbers_stored_as_text(frame, columns, config.source)
    return Ingested(
        frame=frame,
        columns=columns,
        source_sha256=file_sha256(config.source),
        rows_read=rows_read,
    )


def check_numbers_stored_as_text(
    frame: pl.DataFrame | pl.LazyFrame, columns: Columns, source: Path
) -> None:
    """Refuse a feature column of numbers that a few stray values turned into text.

    Such a column would otherwise be treated as categorical, with every number a category.
    Columns declared categorical (`categorical_columns`) are taken at their word. One query
    over the text columns (streamed for a LazyFrame).

    Raises:
        DataError: naming the column, the first stray value and its row.
    """
    schema = frame.collect_schema()
    categorical = set(columns.categorical)
    text = [
        name for name in columns.features if schema[name] == pl.String and name not in categorical
    ]
    if not text:
        return
    figures = []
    for position, name in enumerate(text):
        values = pl.col(name)
        as_number = values.str.strip_chars().cast(pl.Float64, strict=False)
        stray = as_number.is_null() & values.is_not_null()
        figures += [
            stray.sum().alias(f"strays{position}"),
            values.count().alias(f"present{position}"),
            as_number.n_unique().alias(f"distinct{position}"),
            stray.arg_max().alias(f"row{position}"),
            values.filter(stray).first().alias(f"example{position}"),
        ]
    found = frame.lazy().select(figures).collect(engine="streaming").row(0, named=True)
    for position, name in enumerate(text):
        strays = found[f"strays{position}"]
        # Many distinct numbers and a few (<= 5%) other values: a numeric column with typos.
        # Few distinct values ("0", "1", "2", "3+") is a real categorical column.
        if 0 < strays <= 0.05 * found[f"present{position}"] and found[f"distinct{position}"] > 20:
            msg = (
                f"feature column '{name}' in {source} holds numbers but also "
                f"{strays} other values (e.g. {found[f'example{position}'][:40]!r} in data row "
                f"{found[f'row{position}'] + 1}); fix those values, or leave the column out "
                "of `features`"
            )
            raise DataError(msg)

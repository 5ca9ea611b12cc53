"""Read a table with polars and select the columns a run uses."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from rebalance.errors import DataError

READERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".arrow": "ipc",
    ".ipc": "ipc",
    ".feather": "ipc",
}


@dataclass(frozen=True)
class Columns:
    """The roles of the columns a run keeps, in output order."""

    label: str
    features: tuple[str, ...]
    id_column: str | None = None
    group_column: str | None = None

    @property
    def kept(self) -> list[str]:
        """Every kept column once: id, group, features, label."""
        ordered = [self.id_column, self.group_column, *self.features, self.label]
        return list(dict.fromkeys(name for name in ordered if name is not None))


def file_sha256(path: Path, /) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: Path, /, *, separator: str | None = None) -> pl.DataFrame:
    """Read a CSV/TSV, Parquet, NDJSON/JSONL or Arrow IPC file into a polars frame.

    Raises:
        DataError: the file is missing, empty, of an unknown type, unreadable, not UTF-8,
            split by another separator than expected, or has no rows.
    """
    kind = source_kind(path)
    try:
        frame = _read(path, kind, separator)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise read_error(path, kind, exc) from exc
    if kind == "csv" and frame.width == 1:
        _check_separator(path, frame.columns[0], separator)
    if frame.height == 0:
        raise no_rows(path)
    return frame


def scan_table(path: Path, /, *, separator: str | None = None) -> pl.LazyFrame:
    """`read_table`'s file as a polars LazyFrame, read batch by batch when collected.

    The checks that need no data run now; parse errors surface when the frame is
    collected (translate them with `read_error`).

    Raises:
        DataError: the file is missing, empty, of an unknown type, or split by another
            separator than expected.
    """
    kind = source_kind(path)
    try:
        frame = _scan(path, kind, separator)
        names = frame.collect_schema().names()
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise read_error(path, kind, exc) from exc
    if kind == "csv" and len(names) == 1:
        _check_separator(path, names[0], separator)
    return frame


def source_kind(path: Path, /) -> str:
    """The reader for a source file ('csv', 'parquet', 'ndjson', 'ipc').

    Raises:
        DataError: the extension is unknown, or the file is missing or empty.
    """
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        msg = (
            f"source {path} has an unsupported extension '{path.suffix}'; "
            f"use one of {', '.join(sorted(READERS))}"
        )
        raise DataError(msg)
    if not path.is_file():
        msg = (
            f"source file not found: {path}; check `source` in the config "
            "(relative paths resolve against the config file's folder)"
        )
        raise DataError(msg)
    if path.stat().st_size == 0:
        msg = f"source file {path} is empty (0 bytes); point `source` at the data file"
        raise DataError(msg)
    return kind


def read_error(path: Path, kind: str, exc: Exception) -> DataError:
    """One line for a file polars could not read, naming the file and the fix."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "utf-8" in reason.lower() or "utf8" in reason.lower():
        return DataError(f"source {path} is not UTF-8 text ({reason}); re-save it as UTF-8")
    return DataError(f"cannot read source {path} as {kind}: {reason}; check the file's format")


def no_rows(path: Path, /) -> DataError:
    """The error for a source with a header and no data rows."""
    return DataError(f"source {path} has a header but no rows; point `source` at a file with data")


def _check_separator(path: Path, header: str, separator: str | None) -> None:
    for candidate in (";", "\t", "|", ","):
        if candidate != separator and candidate in header:
            msg = (
                f"source {path} reads as one column named {header[:60]!r}: its fields seem "
                f"separated by {candidate!r}; set `separator: {candidate!r}` in the config"
            )
            raise DataError(msg)


# A long inference window so a column whose first rows look like ints but later rows hold
# floats is read as float instead of failing halfway through.
_INFER_ROWS = 100_000


def _csv_separator(path: Path, separator: str | None) -> str:
    return separator or ("\t" if path.suffix.lower() == ".tsv" else ",")


def _read(path: Path, kind: str, separator: str | None) -> pl.DataFrame:
    if kind == "csv":
        separator = _csv_separator(path, separator)
        return pl.read_csv(path, separator=separator, infer_schema_length=_INFER_ROWS)
    if kind == "parquet":
        return pl.read_parquet(path)
    if kind == "ndjson":
        return pl.read_ndjson(path, infer_schema_length=_INFER_ROWS)
    return pl.read_ipc(path)


def _scan(path: Path, kind: str, separator: str | None) -> pl.LazyFrame:
    if kind == "csv":
        separator = _csv_separator(path, separator)
        return pl.scan_csv(path, separator=separator, infer_schema_length=_INFER_ROWS)
    if kind == "parquet":
        return pl.scan_parquet(path)
    if kind == "ndjson":
        return pl.scan_ndjson(path, infer_schema_length=_INFER_ROWS)
    return pl.scan_ipc(path)


def select_columns(
    frame: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    label: str,
    features: list[str] | None,
    id_column: str | None,
    group_column: str | None,
    source: Path,
) -> tuple[pl.DataFrame | pl.LazyFrame, Columns]:
    """Keep the run's columns and strip surrounding whitespace from string labels.

    Label values keep their type and spelling otherwise: `" positive"` becomes `"positive"`,
    `1` stays the integer 1. A LazyFrame stays lazy (a float label column is read once to
    check it).

    Raises:
        DataError: a named column is missing, or the label column holds fractional floats.
    """
    schema = frame.collect_schema()
    names = schema.names()
    for role, name in (("label", label), ("id_column", id_column), ("group_column", group_column)):
        if name is not None and name not in names:
            _raise_missing_column(name, role, names, source)
    special = {label, id_column, group_column} - {None}
    if features is None:
        chosen = [name for name in names if name not in special]
    else:
        for name in features:
            if name not in names:
                _raise_missing_column(name, "features", names, source)
        chosen = [name for name in features if name not in special]
    columns = Columns(
        label=label, features=tuple(chosen), id_column=id_column, group_column=group_column
    )
    frame = frame.select(columns.kept)
    dtype = schema[label]
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return frame.with_columns(pl.col(label).cast(pl.String).str.strip_chars()), columns
    if dtype.is_float():
        _check_whole_numbers(frame, label, source)
    return frame, columns


def _check_whole_numbers(frame: pl.DataFrame | pl.LazyFrame, label: str, source: Path) -> None:
    values = pl.col(label).drop_nulls().drop_nans()
    fractional = values.filter(values != values.round(0)).first()
    example = frame.lazy().select(fractional).collect(engine="streaming").item()
    if example is not None:
        msg = (
            f"label column '{label}' in {source} holds fractional numbers "
            f"(e.g. {example}); a class label must be an integer, string or boolean"
        )
        raise DataError(msg)


def _raise_missing_column(name: str, role: str, names: list[str], source: Path) -> None:
    available = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
    msg = (
        f"{role} column '{name}' is not in {source}; its columns are: {available}. "
        f"Fix `{role}` in the config"
    )
    raise DataError(msg)


def check_numbers_stored_as_text(
    frame: pl.DataFrame | pl.LazyFrame, columns: Columns, source: Path
) -> None:
    """Refuse a feature column of numbers that a few stray values turned into text.

    Such a column would otherwise be treated as categorical, with every number a category.
    One query over the text columns (streamed for a LazyFrame).

    Raises:
        DataError: naming the column, the first stray value and its row.
    """
    schema = frame.collect_schema()
    text = [name for name in columns.features if schema[name] == pl.String]
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

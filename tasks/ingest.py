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
    try:
        frame = _read(path, kind, separator)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "utf-8" in reason.lower() or "utf8" in reason.lower():
            msg = f"source {path} is not UTF-8 text ({reason}); re-save it as UTF-8"
        else:
            msg = f"cannot read source {path} as {kind}: {reason}; check the file's format"
        raise DataError(msg) from exc
    if kind == "csv" and frame.width == 1:
        _check_separator(path, frame.columns[0], separator)
    if frame.height == 0:
        msg = f"source {path} has a header but no rows; point `source` at a file with data"
        raise DataError(msg)
    return frame


def _check_separator(path: Path, header: str, separator: str | None) -> None:
    for candidate in (";", "\t", "|", ","):
        if candidate != separator and candidate in header:
            msg = (
                f"source {path} reads as one column named {header[:60]!r}: its fields seem "
                f"separated by {candidate!r}; set `separator: {candidate!r}` in the config"
            )
            raise DataError(msg)


def _read(path: Path, kind: str, separator: str | None) -> pl.DataFrame:
    if kind == "csv":
        separator = separator or ("\t" if path.suffix.lower() == ".tsv" else ",")
        # A long inference window so a column whose first rows look like ints but later
        # rows hold floats is read as float instead of failing halfway through.
        return pl.read_csv(path, separator=separator, infer_schema_length=100_000)
    if kind == "parquet":
        return pl.read_parquet(path)
    if kind == "ndjson":
        return pl.read_ndjson(path, infer_schema_length=100_000)
    return pl.read_ipc(path)


def select_columns(
    frame: pl.DataFrame,
    /,
    *,
    label: str,
    features: list[str] | None,
    id_column: str | None,
    group_column: str | None,
    source: Path,
) -> tuple[pl.DataFrame, Columns]:
    """Keep the run's columns and strip surrounding whitespace from string labels.

    Label values keep their type and spelling otherwise: `" positive"` becomes `"positive"`,
    `1` stays the integer 1.

    Raises:
        DataError: a named column is missing, or the label column holds fractional floats.
    """
    for role, name in (("label", label), ("id_column", id_column), ("group_column", group_column)):
        if name is not None and name not in frame.columns:
            _raise_missing_column(name, role, frame, source)
    special = {label, id_column, group_column} - {None}
    if features is None:
        chosen = [name for name in frame.columns if name not in special]
    else:
        for name in features:
            if name not in frame.columns:
                _raise_missing_column(name, "features", frame, source)
        chosen = [name for name in features if name not in special]
    columns = Columns(
        label=label, features=tuple(chosen), id_column=id_column, group_column=group_column
    )
    frame = frame.select(columns.kept)
    return frame.with_columns(_clean_label(frame[label], source)), columns


def _clean_label(labels: pl.Series, source: Path) -> pl.Series:
    if labels.dtype in (pl.String, pl.Categorical) or isinstance(labels.dtype, pl.Enum):
        return labels.cast(pl.String).str.strip_chars()
    if labels.dtype.is_float():
        values = labels.drop_nulls().drop_nans()
        if (values != values.round(0)).any():
            example = values.filter(values != values.round(0))[0]
            msg = (
                f"label column '{labels.name}' in {source} holds fractional numbers "
                f"(e.g. {example}); a class label must be an integer, string or boolean"
            )
            raise DataError(msg)
    return labels


def _raise_missing_column(name: str, role: str, frame: pl.DataFrame, source: Path) -> None:
    available = ", ".join(frame.columns[:20]) + (" ..." if frame.width > 20 else "")
    msg = (
        f"{role} column '{name}' is not in {source}; its columns are: {available}. "
        f"Fix `{role}` in the config"
    )
    raise DataError(msg)


def check_numbers_stored_as_text(frame: pl.DataFrame, columns: Columns, source: Path) -> None:
    """Refuse a feature column of numbers that a few stray values turned into text.

    Such a column would otherwise be treated as categorical, with every number a category.

    Raises:
        DataError: naming the column, the first stray value and its row.
    """
    for name in columns.features:
        if frame.schema[name] != pl.String:
            continue
        values = frame[name]
        as_number = values.str.strip_chars().cast(pl.Float64, strict=False)
        stray = as_number.is_null() & values.is_not_null()
        # Many distinct numbers and a few (<= 5%) other values: a numeric column with typos.
        # Few distinct values ("0", "1", "2", "3+") is a real categorical column.
        strays = int(stray.sum())
        if 0 < strays <= 0.05 * values.drop_nulls().len() and as_number.n_unique() > 20:
            row = int(stray.arg_max())
            msg = (
                f"feature column '{name}' in {source} holds numbers but also "
                f"{strays} other values (e.g. {values[row][:40]!r} in data row "
                f"{row + 1}); fix those values, or leave the column out of `features`"
            )
            raise DataError(msg)

"""Source tables read with polars (CSV/TSV, Parquet, NDJSON, Arrow IPC), and the run's columns
selected from them. Tables, text files and image path tables are all read here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from rebalance.errors import DataError
from tasks.core.columns import SYNTHETIC, Columns

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


def read_table(path: Path, /, *, separator: str | None = None) -> pl.DataFrame:
    """Read a CSV/TSV, Parquet, NDJSON/JSONL or Arrow IPC file into a polars frame.

    Raises:
        DataError: the file is missing, empty, of an unknown type, unreadable, not UTF-8,
            split by another separator than expected, or has no rows.
    """
    kind = source_kind(path)
    check_column_names(path, kind=kind, separator=separator)
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
    check_column_names(path, kind=kind, separator=separator)
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


def check_column_names(path: Path, /, *, kind: str, separator: str | None = None) -> None:
    """Refuse a header that names a column twice, or two names that differ only by spaces.

    polars renames a CSV's second `x1` to `x1_duplicated_0`, refuses one in Parquet, and
    panics on one in Arrow IPC; none of which says which column a config's `x1` means. So
    the header is read as written (CSV) or from the file's Arrow schema, before polars.
    JSON lines are not checked: a repeated key within a line is a JSON question, and every
    line's keys become the columns.

    Raises:
        DataError: naming the file, the columns and the fix.
    """
    names = _header_as_written(path, kind, separator)
    if not names:
        return
    counts = Counter(names)
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        shown = ", ".join(f"{counts[name]} columns named '{name}'" for name in repeated[:10])
        msg = f"source {path} has {shown}; give each column its own name in the file's header"
        raise DataError(msg)
    by_stripped: dict[str, list[str]] = {}
    for name in names:
        by_stripped.setdefault(name.strip(), []).append(name)
    clashing = [group for group in by_stripped.values() if len(group) > 1]
    if clashing:
        shown = "; ".join(" and ".join(repr(name) for name in group) for group in clashing[:5])
        msg = (
            f"source {path} has columns whose names differ only by spaces ({shown}); rename "
            "them in the file's header so a config names one column"
        )
        raise DataError(msg)


def _header_as_written(path: Path, kind: str, separator: str | None) -> list[str] | None:
    """The column names in the file, repeats kept; None where they cannot be read (yet)."""
    try:
        if kind == "csv":
            first = pl.read_csv(
                path,
                separator=_csv_separator(path, separator),
                has_header=False,
                n_rows=1,
                infer_schema=False,
                encoding="utf8-lossy",  # bad bytes elsewhere are the reader's to name
            )
            return [value or "" for value in first.row(0)] if first.height else None
        import pyarrow.ipc
        import pyarrow.parquet

        if kind == "parquet":
            return list(pyarrow.parquet.read_schema(path).names)
        if kind == "ipc":
            try:
                return list(pyarrow.ipc.open_file(path).schema.names)
            except pyarrow.ArrowInvalid:  # the streaming format (`.arrow` written as a stream)
                return list(pyarrow.ipc.open_stream(path).schema.names)
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None  # unreadable: the reader that follows says why, in its words
    return None


def check_json_types(path: Path, /, columns: Sequence[str]) -> None:
    """Refuse a JSON lines column whose values are of more than one JSON type.

    `columns` are those polars read as strings: a mix of types is read as strings, and a
    column of numbers or booleans has one type.

    polars reads `1`, `"1"` and `true` in one column as the strings "1", "1" and "true": two
    classes (or ids, or a numeric feature) silently merged into one. pyarrow's JSON reader,
    told the columns are strings, stops at the first value that is not one (fast, in C++); only
    then is the file read line by line to name the values. Other sources have one type per
    column by construction. Nulls mix with any type.

    Raises:
        DataError: naming the column, example values with their JSON types, and the fix.
    """
    if READERS.get(path.suffix.lower()) != "ndjson" or not columns:
        return
    import pyarrow as pa
    import pyarrow.json

    wanted = list(dict.fromkeys(columns))
    options = pyarrow.json.ParseOptions(
        explicit_schema=pa.schema([(name, pa.string()) for name in wanted]),
        unexpected_field_behavior="ignore",
    )
    try:
        # Batch by batch, so a streamed source is not held in memory to be checked.
        for _ in pyarrow.json.open_json(path, parse_options=options):
            pass
    except (pa.ArrowInvalid, OSError):
        pass  # a value of another type, or a line pyarrow cannot read: look line by line
    else:
        return
    seen = _json_types_by_column(path, wanted)
    for name in wanted:
        kinds = seen.get(name, {})
        if len(kinds) > 1:
            shown = ", ".join(
                f"{example} ({kind})" for kind, examples in kinds.items() for example in examples
            )
            msg = (
                f"column '{name}' in {path} holds values of different JSON types ({shown}), "
                "which would all be read as strings and merged; make them one type in the "
                'file (e.g. all strings: "1")'
            )
            raise DataError(msg)


def _json_types_by_column(path: Path, columns: list[str]) -> dict[str, dict[str, list[str]]]:
    """Up to three distinct example values (as JSON) per column and JSON type."""
    import json

    names = {bool: "boolean", int: "number", float: "number", str: "string"}
    names |= {dict: "object", list: "array"}
    seen: dict[str, dict[str, list[str]]] = {name: {} for name in columns}
    with path.open("rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                continue  # the reader says which line is not JSON
            if not isinstance(record, dict):
                continue
            for name in columns:
                value = record.get(name)
                if value is None:
                    continue
                examples = seen[name].setdefault(names[type(value)], [])
                shown = json.dumps(value, ensure_ascii=False)[:40]
                if len(examples) < 3 and shown not in examples:
                    examples.append(shown)
    return seen


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
    ignored: Sequence[str] = (),
    categorical: Sequence[str] = (),
) -> tuple[pl.DataFrame | pl.LazyFrame, Columns]:
    """Keep the run's columns and strip surrounding whitespace from string labels.

    Label values keep their type and spelling otherwise: `" positive"` becomes `"positive"`,
    `1` stays the integer 1. A LazyFrame stays lazy (a float label column is read once to
    check it). `ignored` columns are left out (of "all other columns" when `features` is
    None); `categorical` features are declared categorical in the returned Columns.

    Raises:
        DataError: a named column is missing, the label column holds fractional floats, or
            a `categorical` column is not a feature column.
    """
    schema = frame.collect_schema()
    names = schema.names()
    # Sets for the membership tests: a list's is a scan, quadratic on thousands of columns.
    present = set(names)
    named = [("label", label), ("id_column", id_column), ("group_column", group_column)]
    named += [("ignored_columns", name) for name in ignored]
    for role, name in named:
        if name is not None and name not in present:
            raise missing_column(name, role, names, source)
    special = {label, id_column, group_column, *ignored} - {None}
    if features is None:
        chosen = [name for name in names if name not in special]
    else:
        for name in features:
            if name not in present:
                raise missing_column(name, "features", names, source)
        chosen = [name for name in features if name not in special]
    kept = set(chosen)
    for name in categorical:
        if name not in kept:
            raise not_a_feature(name, "categorical_columns", chosen)
    columns = Columns(
        label=label,
        features=tuple(chosen),
        id_column=id_column,
        group_column=group_column,
        categorical=tuple(dict.fromkeys(categorical)),
    )
    if SYNTHETIC in columns.kept:
        # The run adds its own `is_synthetic` to train.parquet: the file's would be overwritten.
        msg = (
            f"source {source} has a column named '{SYNTHETIC}', the column a run adds to mark "
            "the rows rebalancing made; rename it in the file"
        )
        raise DataError(msg)
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


def missing_column(name: str, key: str, names: list[str], source: Path) -> DataError:
    """The error for a column the config names (under `key`) that the source does not have."""
    available = _listed(names)
    role = key.removesuffix("_columns").removesuffix("_column")
    msg = (
        f"{role} column '{name}' is not in {source}; its columns are: "
        f"{available}. Fix `{key}` in the config"
    )
    return DataError(msg)


def not_a_feature(name: str, key: str, features: Sequence[str]) -> DataError:
    """The error for a column `key` names that is in the source but not a feature column."""
    msg = (
        f"`{key}` names '{name}', which is not a feature column (they are: "
        f"{_listed(features) or 'none'}); remove it from `{key}`, or make it a feature"
    )
    return DataError(msg)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")


def source_columns(path: Path, /, *, separator: str | None = None) -> list[str] | None:
    """The column names of a CSV/TSV, Parquet or Arrow IPC source, without reading its rows.

    None where they cannot be known that cheaply: no such file (yet), JSON lines (whose
    columns are the keys of every line), or a file polars cannot read (ingest says why).

    Raises:
        DataError: a CSV file reads as one column whose name holds another separator.
    """
    kind = READERS.get(path.suffix.lower())
    if kind in (None, "ndjson") or not path.is_file() or path.stat().st_size == 0:
        return None
    check_column_names(path, kind=kind, separator=separator)
    try:
        if kind == "csv":
            separator_used = _csv_separator(path, separator)
            names = pl.read_csv(path, separator=separator_used, n_rows=0).columns
        elif kind == "parquet":
            names = list(pl.read_parquet_schema(path))
        else:
            names = list(pl.read_ipc_schema(path))
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    if kind == "csv" and len(names) == 1:
        _check_separator(path, names[0], separator)
    return names


@contextmanager
def reading(source: Path) -> Iterator[None]:
    """Turn a polars error while the source is read into `read_table`'s one-line DataError.

    An error from the operating system (a full disk while a scratch copy is written, a
    flaky share) stays an OSError: it is not the data's fault, and the step is retried.
    """
    try:
        yield
    except pl.exceptions.PolarsError as exc:
        if "(os error" in str(exc):
            raise OSError(str(exc).strip().splitlines()[0]) from exc
        raise read_error(source, READERS.get(source.suffix.lower(), "table"), exc) from exc

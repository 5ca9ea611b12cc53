"""Read a text dataset and mark, by row, the texts that cannot be used as they are.

Reading never fails on one bad text: undecodable bytes are decoded with U+FFFD replacement
characters and non-string values are turned into strings, and the row is marked in the
`PROBLEM` column, so validation can report every bad row at once (or drop them).
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import polars as pl

from rebalance.errors import DataError
from tasks.core.columns import Columns
from tasks.core.tables import (
    READERS,
    check_column_names,
    check_json_types,
    missing_column,
    read_table,
    select_columns,
)
from validations.text import PROBLEM

ROW_ID = "row_id"
UNDECODABLE = "undecodable bytes (not UTF-8)"


def read_texts(
    path: Path, /, *, text_column: str, label: str, id_column: str | None
) -> tuple[pl.DataFrame, Columns, int]:
    """Read CSV, Parquet/Arrow or NDJSON/JSONL texts; returns the frame, its columns, rows read.

    The frame holds the id column (`row_id`, the 1-based data row, when `id_column` is not
    set), the text column as strings, the label, and `PROBLEM`.

    Raises:
        DataError: the file is missing, empty or unreadable, or a named column is missing.
    """
    kind = READERS.get(path.suffix.lower())
    if kind == "csv":
        frame = _read_csv(path, text_column)
    elif kind == "ndjson":
        frame = _read_ndjson(path, text_column)
    else:
        frame = read_table(path)
        if text_column in frame.columns:
            frame = _strings(frame, text_column)
    rows_read = frame.height
    # Checked here, against the file's own columns: select_columns below also sees the columns
    # this module adds (the problem mark, `row_id`), which the user never wrote.
    own = [name for name in frame.columns if name != PROBLEM]
    for key, name in (("text_column", text_column), ("label", label), ("id_column", id_column)):
        if name is not None and name not in own:
            raise missing_column(name, key, own, path)
    # The text column's own non-strings are bad texts (`bad_text_policy`), not a type mix.
    check_json_types(
        path, [name for name in (label, id_column) if name and frame.schema[name] == pl.String]
    )
    if PROBLEM not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(PROBLEM))
    if id_column is None:
        if ROW_ID in frame.columns:
            msg = (
                f"{path} has a column '{ROW_ID}', the name of the row ids added when "
                f"`id_column` is empty; set id_column: {ROW_ID} or rename the column"
            )
            raise DataError(msg)
        frame = frame.with_row_index(ROW_ID, offset=1).with_columns(pl.col(ROW_ID).cast(pl.Int64))
    frame, columns = select_columns(
        frame,
        label=label,
        features=[text_column, PROBLEM],
        id_column=id_column or ROW_ID,
        group_column=None,
        source=path,
    )
    columns = Columns(label=columns.label, features=(text_column,), id_column=columns.id_column)
    return frame.select([*columns.kept, PROBLEM]), columns, rows_read


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_csv(path: Path, text_column: str) -> pl.DataFrame:
    frame = read_table(path) if _is_utf8(path) else None
    if frame is not None:
        if text_column in frame.columns:
            frame = frame.with_columns(pl.col(text_column).cast(pl.String))
        return frame
    # Invalid UTF-8 somewhere: read with replacement characters, then mark the rows whose
    # strings hold one (a genuine U+FFFD in such a file is marked too: it cannot be told apart).
    check_column_names(path, kind="csv")  # as read_table does: no silent `x_duplicated_0`
    try:
        frame = pl.read_csv(path, encoding="utf8-lossy", infer_schema_length=100_000)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        msg = f"cannot read source {path} as csv: {exc}; check the file's format"
        raise DataError(msg) from exc
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not strings:
        return frame
    bad = pl.any_horizontal(pl.col(name).str.contains("\ufffd", literal=True) for name in strings)
    return frame.with_columns(pl.when(bad).then(pl.lit(UNDECODABLE)).otherwise(None).alias(PROBLEM))


def _read_ndjson(path: Path, text_column: str) -> pl.DataFrame:
    if not path.is_file() or path.stat().st_size == 0:
        return read_table(path)  # its errors name the missing or empty file
    records: list[dict] = []
    problems: list[str | None] = []
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            problem = None
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line, problem = raw.decode("utf-8", errors="replace"), UNDECODABLE
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                msg = f"line {line_number} of {path} is not JSON ({exc.msg}); fix or remove it"
                raise DataError(msg) from None
            if not isinstance(record, dict):
                msg = f"line {line_number} of {path} is not a JSON object; fix or remove it"
                raise DataError(msg)
            value = record.get(text_column)
            if value is not None and not isinstance(value, str):
                problem = problem or f"not a string ({type(value).__name__} {_short(value)})"
                record[text_column] = json.dumps(value, ensure_ascii=False)
            records.append(record)
            problems.append(problem)
    if not records:
        msg = f"source {path} has no JSON lines; point `source` at a file with data"
        raise DataError(msg)
    names = list(dict.fromkeys(name for record in records for name in record))
    frame = pl.DataFrame(
        {name: pl.Series(name, [r.get(name) for r in records], strict=False) for name in names}
    )
    return frame.with_columns(pl.Series(PROBLEM, problems, dtype=pl.String))


def _strings(frame: pl.DataFrame, text_column: str) -> pl.DataFrame:
    """A Parquet/Arrow text column as strings; other types and bad bytes are marked."""
    dtype = frame.schema[text_column]
    if dtype == pl.String:
        return frame
    texts: list[str | None] = []
    problems: list[str | None] = []
    for value in frame[text_column].to_list():
        if value is None:
            texts.append(None)
            problems.append(None)
        elif isinstance(value, bytes):
            try:
                texts.append(value.decode("utf-8"))
                problems.append(None)
            except UnicodeDecodeError:
                texts.append(value.decode("utf-8", errors="replace"))
                problems.append(UNDECODABLE)
        else:
            texts.append(str(value))
            problems.append(f"not a string ({dtype} {_short(value)})")
    return frame.with_columns(
        pl.Series(text_column, texts, dtype=pl.String), pl.Series(PROBLEM, problems, pl.String)
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."

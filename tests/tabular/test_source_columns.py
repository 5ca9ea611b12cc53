"""A source's columns are what its file says: no silent renaming of repeated names, no merge
of JSON values of different types, no clash with the columns a run adds."""

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.feather
import pyarrow.parquet
import pytest

from rebalance.config import load_config
from rebalance.errors import ConfigError, DataError
from tasks.core.tables import check_json_types, read_table, scan_table, select_columns
from tasks.images.index import _read_path_table
from tasks.tabular.ingest import ingest_table
from tests.helpers import write_config

# x1 twice and a label: what polars would read as x1, x1_duplicated_0, y.
_REPEATED = pa.table(
    [pa.array([1, 2, 3]), pa.array([4, 5, 6]), pa.array(["a", "a", "b"])], names=["x1", "x1", "y"]
)


def _write_repeated(path: Path) -> None:
    if path.suffix in (".csv", ".tsv"):
        separator = "\t" if path.suffix == ".tsv" else ","
        path.write_text(separator.join(["x1", "x1", "y"]) + "\n1\t4\ta\n".replace("\t", separator))
    elif path.suffix == ".parquet":
        pyarrow.parquet.write_table(_REPEATED, path)
    else:  # Arrow IPC, on which polars panics rather than raise
        pyarrow.feather.write_feather(_REPEATED, path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".arrow"])
@pytest.mark.parametrize("reader", [read_table, scan_table])
def test_a_column_name_given_twice_is_refused_naming_it_and_the_file(tmp_path, suffix, reader):
    path = tmp_path / f"data{suffix}"
    _write_repeated(path)

    with pytest.raises(DataError, match=r"has 2 columns named 'x1'; give each column its own") as e:
        reader(path)

    assert str(path) in str(e.value)
    assert "duplicated" not in str(e.value)


def test_a_config_naming_a_repeated_column_is_refused_when_it_loads(tmp_path):
    source = tmp_path / "data.csv"
    source.write_text("id,status,x1,x2,x1\n1,a,1,2,3\n")

    with pytest.raises(ConfigError, match=r"has 2 columns named 'x1'"):
        load_config(write_config(tmp_path, source, id_column="id"))


def test_names_that_differ_only_by_spaces_are_refused_as_ambiguous(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("x1, x1,y\n1,2,a\n")

    with pytest.raises(DataError, match=r"differ only by spaces \('x1' and ' x1'\)"):
        read_table(path)


def test_distinct_names_and_quoted_commas_in_a_header_read_as_before(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('"a,b",a,y\n1,2,z\n')

    assert read_table(path).columns == ["a,b", "a", "y"]


def test_a_source_column_named_like_the_synthetic_mark_is_refused():
    frame = pl.DataFrame({"x": [1, 2], "is_synthetic": [True, False], "y": ["a", "b"]})

    with pytest.raises(DataError, match=r"column named 'is_synthetic', the column a run adds"):
        select_columns(
            frame, label="y", features=None, id_column=None, group_column=None, source=Path("f")
        )
    kept, _ = select_columns(
        frame, label="y", features=["x"], id_column=None, group_column=None, source=Path("f")
    )
    assert kept.columns == ["x", "y"]


def _write_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("column", "values", "shown"),
    [
        ("status", [1, "1", True, 1], r'1 \(number\), "1" \(string\), true \(boolean\)'),
        ("status", ["a", "a", 0, "b"], r'"a" \(string\), "b" \(string\), 0 \(number\)'),
        ("loan_id", ["L1", 2, "L3", "L4"], r'"L1" \(string\).*2 \(number\)'),
        ("income", [10, 20, "n/a", 40], r'10 \(number\), 20 \(number\), 40 \(number\), "n/a"'),
        ("status", ["a", ["a"], "b", "b"], r'"b" \(string\), \["a"\] \(array\)'),
    ],
)
def test_a_json_lines_column_of_mixed_types_is_refused_naming_values(
    tmp_path, column, values, shown
):
    rows = [
        {"loan_id": f"L{i}", "income": 10 * i, "status": "a" if i % 2 else "b"} for i in range(4)
    ]
    for row, value in zip(rows, values, strict=True):
        row[column] = value
    source = _write_lines(tmp_path / "data.jsonl", rows)
    config = load_config(write_config(tmp_path, source))

    with pytest.raises(DataError, match=rf"column '{column}' in .*types \(.*{shown}.*one type"):
        ingest_table(config)


def test_json_lines_of_one_type_per_column_read_with_their_types(tmp_path):
    rows = [{"loan_id": i, "income": 1.5 * i, "status": i % 2 == 0} for i in range(4)]
    rows += [{"loan_id": 9, "income": None, "status": None}]
    source = _write_lines(tmp_path / "data.ndjson", rows)

    ingested = ingest_table(load_config(write_config(tmp_path, source)))

    assert ingested.frame["status"].to_list() == [True, False, True, False, None]
    check_json_types(source, ["status"])  # booleans and a null: one type


def test_an_image_path_table_of_mixed_label_types_is_refused(tmp_path):
    source = _write_lines(
        tmp_path / "images.jsonl",
        [{"path": "a.png", "label": 1}, {"path": "b.png", "label": "1"}],
    )

    with pytest.raises(DataError, match=r"column 'label' in .*1 \(number\), \"1\" \(string\)"):
        _read_path_table(source, label="label", path_column="path")

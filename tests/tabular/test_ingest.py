import time
from pathlib import Path

import polars as pl
import pytest

from rebalance.errors import DataError
from tasks.core.columns import Columns
from tasks.core.tables import read_table, select_columns
from tests.helpers import loans_frame


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl", ".ndjson", ".arrow"])
def test_every_format_reads_the_same_rows(tmp_path, suffix):
    frame = loans_frame(20)
    path = tmp_path / f"data{suffix}"
    writers = {
        ".csv": frame.write_csv,
        ".parquet": frame.write_parquet,
        ".jsonl": frame.write_ndjson,
        ".ndjson": frame.write_ndjson,
        ".arrow": frame.write_ipc,
    }
    writers[suffix](path)

    read = read_table(path)

    assert read.select(pl.col(pl.String)).equals(frame.select(pl.col(pl.String)))
    assert read["amount"].to_list() == frame["amount"].to_list()


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: None, "source file not found"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_text("a,b,status\n"), "header but no rows"),
        (lambda p: p.write_bytes(b"PAR1\x00garbage"), "cannot read source"),
    ],
)
def test_unusable_files_are_named(tmp_path, setup, expected):
    suffix = ".parquet" if "cannot read" in expected else ".csv"
    path = tmp_path / f"data{suffix}"
    setup(path)

    with pytest.raises(DataError, match=expected) as caught:
        read_table(path)

    assert str(path) in str(caught.value)


def test_unknown_extension_lists_the_supported_ones(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")

    with pytest.raises(DataError, match=r"unsupported extension '\.xlsx'.*\.parquet"):
        read_table(path)


def test_labels_lose_surrounding_spaces_but_keep_spelling():
    frame = pl.DataFrame({"x": [1, 2, 3], "status": [" Approved", "Rejected ", "re jected"]})

    selected, columns = select_columns(
        frame, label="status", features=None, id_column=None, group_column=None, source=Path("f")
    )

    assert selected["status"].to_list() == ["Approved", "Rejected", "re jected"]
    assert columns.features == ("x",)


def test_integer_labels_keep_their_type():
    frame = pl.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})

    selected, _ = select_columns(
        frame, label="y", features=None, id_column=None, group_column=None, source=Path("f")
    )

    assert selected["y"].dtype == pl.Int64


def test_features_keep_only_named_columns_in_order():
    frame = loans_frame(10)

    selected, columns = select_columns(
        frame,
        label="status",
        features=["area", "income"],
        id_column="loan_id",
        group_column=None,
        source=Path("f"),
    )

    assert selected.columns == ["loan_id", "area", "income", "status"]
    assert columns.features == ("area", "income")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"label": "Status"}, "label column 'Status' is not in"),
        ({"label": "status", "features": ["incme"]}, "features column 'incme'"),
        ({"label": "status", "id_column": "id"}, "id column 'id' is not in .*Fix `id_column`"),
    ],
)
def test_missing_columns_are_named_with_the_available_ones(kwargs, expected):
    arguments = {"features": None, "id_column": None, "group_column": None, **kwargs}

    with pytest.raises(DataError, match=expected) as caught:
        select_columns(loans_frame(5), source=Path("loans.csv"), **arguments)

    assert "loan_id, income" in str(caught.value)


def test_fractional_float_labels_are_refused():
    frame = pl.DataFrame({"x": [1, 2], "y": [0.5, 1.0]})

    with pytest.raises(DataError, match="fractional numbers"):
        select_columns(
            frame, label="y", features=None, id_column=None, group_column=None, source=Path("f")
        )


def test_a_file_split_by_another_separator_says_which(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b;y\n1;2;p\n3;4;n\n")

    with pytest.raises(DataError, match=r"separated by ';'; set `separator: ';'`"):
        read_table(path)
    assert read_table(path, separator=";").columns == ["a", "b", "y"]


def test_non_utf8_bytes_are_named_with_the_fix(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,y\n1,caf\xe9\n2,n\n")

    with pytest.raises(DataError, match=r"is not UTF-8 text.*re-save it as UTF-8"):
        read_table(path)


def test_a_numeric_column_with_a_stray_word_is_named_with_its_row(tmp_path):
    from tasks.tabular.ingest import check_numbers_stored_as_text

    values = [str(v) for v in range(100)]
    values[41] = "oops"
    frame = pl.DataFrame({"a": values, "y": ["p", "n"] * 50})
    columns = Columns(label="y", features=("a",))

    with pytest.raises(DataError, match=r"'a' .* 1 other values \(e\.g\. 'oops' in data row 42\)"):
        check_numbers_stored_as_text(frame, columns, Path("f.csv"))


def test_a_column_declared_categorical_is_not_refused_as_numbers_with_a_stray_word():
    from tasks.tabular.ingest import check_numbers_stored_as_text

    values = [str(v) for v in range(100)]
    values[41] = "oops"
    frame = pl.DataFrame({"a": values, "y": ["p", "n"] * 50})

    check_numbers_stored_as_text(
        frame, Columns(label="y", features=("a",), categorical=("a",)), Path("f.csv")
    )


def test_ignored_columns_are_left_out_of_all_other_columns():
    selected, columns = select_columns(
        loans_frame(10),
        label="status",
        features=None,
        id_column="loan_id",
        group_column=None,
        source=Path("f"),
        ignored=["amount", "term"],
        categorical=["area"],
    )

    assert columns.features == ("income", "education", "area")
    assert columns.categorical == ("area",)
    assert selected.columns == ["loan_id", "income", "education", "area", "status"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"ignored": ["amnt"]}, "ignored column 'amnt' is not in .* Fix `ignored_columns`"),
        (
            {"ignored": ["term"], "categorical": ["term"]},
            r"`categorical_columns` names 'term', which is not a feature column \(they are: "
            r"income, amount, education, area\)",
        ),
        (
            {"categorical": ["loan_id"]},
            "`categorical_columns` names 'loan_id', which is not a feature column",
        ),
    ],
)
def test_ignored_and_categorical_columns_the_features_lack_are_named(kwargs, expected):
    # What a JSON lines source (whose columns the config cannot read) meets at ingest.
    arguments = {"label": "status", "features": None, "id_column": "loan_id", **kwargs}

    with pytest.raises(DataError, match=expected):
        select_columns(loans_frame(5), group_column=None, source=Path("f.jsonl"), **arguments)


def test_few_distinct_codes_with_text_stay_categorical():
    from tasks.tabular.ingest import check_numbers_stored_as_text

    frame = pl.DataFrame({"dependents": ["0", "1", "2", "3+"] * 30, "y": ["p", "n"] * 60})

    check_numbers_stored_as_text(frame, Columns(label="y", features=("dependents",)), Path("f"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a" * 50_000_000, "has a header but no rows"),
        (b"a,y\n1,p\n" + b"2,n," * 5_000_000, "cannot read source .*check the file's format"),
    ],
    ids=["50 MB line without a newline", "20 MB row with extra fields"],
)
def test_a_fifty_megabyte_line_is_named_quickly(tmp_path, content, expected):
    path = tmp_path / "huge.csv"
    path.write_bytes(content)
    started = time.perf_counter()

    with pytest.raises(DataError, match=expected) as caught:
        read_table(path)

    assert time.perf_counter() - started < 30
    assert str(path) in str(caught.value)
    assert len(str(caught.value)) < 400  # the line itself is not echoed


def test_a_twenty_megabyte_cell_is_read_whole(tmp_path):
    path = tmp_path / "cell.csv"
    path.write_bytes(b"a,y\n" + b"x" * 20_000_000 + b",p\n1,n\n")

    frame = read_table(path)

    assert frame.shape == (2, 2)
    assert len(frame["a"][0]) == 20_000_000


def test_an_enormous_single_line_is_read_or_named(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,y\n" + "x" * 2_000_000 + ",p\n1,n\n")

    frame = read_table(path)

    assert len(frame["a"][0]) == 2_000_000

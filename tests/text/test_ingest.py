"""Reading and validating texts: every kind of bad text is named by row, good ones kept intact."""

import json

import polars as pl
import pytest

from rebalance.errors import DataError, ValidationFailed
from tasks.text.ingest import read_texts
from tasks.text.modality import MODALITY as TEXT
from tests.text_helpers import COLUMNS, text_config
from validations.text import duplicate_stats, validate_texts

NASTY = [
    'first line\nsecond line, "quoted", with commas',
    "مرحبا، لم يصل طلبي بعد — RTL with a dash",
    "emoji 👩🏽‍💻 and combining é (e + U+0301)",
    "  padded with spaces  ",
]


def _good_rows() -> list[dict]:
    rows = [{"text": f"order {i} is late", "label": "order"} for i in range(9)]
    rows += [{"text": text, "label": "refund"} for text in NASTY]
    return rows


def _write_jsonl(path, rows, extra_lines: list[bytes] = ()) -> None:
    lines = [json.dumps(row, ensure_ascii=False).encode() for row in rows]
    path.write_bytes(b"\n".join([*lines, *extra_lines]) + b"\n")


def _validate(tmp_path, path, *, bad_text_policy="fail", null_policy="fail"):
    frame, columns, rows_read = read_texts(path, text_column="text", label="label", id_column=None)
    checked = validate_texts(
        frame,
        columns=columns,
        null_policy=null_policy,
        bad_text_policy=bad_text_policy,
        dataset="t",
        source=path,
        output_dir=tmp_path / "validation",
    )
    return checked, rows_read


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_multi_line_rtl_and_emoji_texts_are_read_byte_for_byte(tmp_path, suffix):
    path = tmp_path / f"texts{suffix}"
    frame = pl.DataFrame(_good_rows())
    if suffix == ".jsonl":
        _write_jsonl(path, _good_rows())
    elif suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)

    frame, columns, rows_read = read_texts(path, text_column="text", label="label", id_column=None)

    assert rows_read == 13
    assert frame["text"].to_list()[-4:] == NASTY
    assert frame["row_id"].to_list() == list(range(1, 14))
    assert frame["_text_problem"].null_count() == 13
    assert columns.kept == ["row_id", "text", "label"]


def test_invalid_utf8_in_a_csv_is_named_by_row(tmp_path):
    path = tmp_path / "texts.csv"
    good = "".join(f"order {i} is late,order\n" for i in range(9)).encode()
    path.write_bytes(
        b"text,label\n" + good + b"caf\xe9 latte refund,refund\nok,refund\nfine,refund\n"
    )

    with pytest.raises(ValidationFailed) as caught:
        _validate(tmp_path, path)

    assert "row 10: undecodable bytes" in str(caught.value)
    assert "validation.bad_text_policy: drop" in str(caught.value)


def test_each_bad_jsonl_text_is_reported_and_dropped_with_counts(tmp_path):
    path = tmp_path / "texts.jsonl"
    rows = [
        *_good_rows(),
        {"text": "   \n\t ", "label": "refund"},
        {"text": "", "label": "order"},
        {"text": 42, "label": "refund"},
        {"text": ["a", "list"], "label": "order"},
    ]
    _write_jsonl(path, rows, [b'{"text": "bad \xff byte", "label": "refund"}'])

    with pytest.raises(ValidationFailed) as caught:
        _validate(tmp_path, path)
    checked, rows_read = _validate(tmp_path, path, bad_text_policy="drop")

    message = str(caught.value)
    assert message.startswith("5 unusable text(s) in column 'text'")
    assert "row 14: empty or whitespace-only" in message
    assert "row 15: empty or whitespace-only" in message
    assert "row 16: not a string (int 42)" in message
    assert "row 17: not a string (list ['a', 'list'])" in message
    assert "row 18: undecodable bytes" in message
    assert rows_read == 18
    assert checked.frame.height == 13
    assert checked.rows_dropped == 5
    assert checked.findings.bad_texts_dropped == {
        "empty or whitespace-only": 2,
        "not a string (int 42)": 1,
        "not a string (list ['a', 'list'])": 1,
        "undecodable bytes (not UTF-8)": 1,
    }


def test_a_non_string_parquet_column_and_undecodable_binary_are_named(tmp_path):
    numbers = tmp_path / "numbers.parquet"
    pl.DataFrame({"text": list(range(12)), "label": ["a", "b", "c"] * 4}).write_parquet(numbers)
    binary = tmp_path / "binary.parquet"
    values = [f"text {i}".encode() for i in range(11)] + [b"\xc3\x28"]
    pl.DataFrame({"text": values, "label": ["a", "b", "c"] * 4}).write_parquet(binary)

    with pytest.raises(ValidationFailed, match=r"12 unusable.*row 1: not a string \(Int64 0\)"):
        _validate(tmp_path, numbers)
    with pytest.raises(ValidationFailed, match=r"^1 unusable.*row 12: undecodable bytes"):
        _validate(tmp_path, binary)


def test_null_texts_follow_the_null_policy(tmp_path):
    path = tmp_path / "texts.jsonl"
    _write_jsonl(path, [*_good_rows(), {"text": None, "label": "order"}, {"label": "refund"}])

    with pytest.raises(ValidationFailed, match=r"null values in 'text' \(2\).*null_policy: drop"):
        _validate(tmp_path, path)
    checked, _ = _validate(tmp_path, path, null_policy="drop")

    assert checked.rows_dropped == 2
    assert checked.null_counts["text"] == 2


def test_a_one_megabyte_text_is_read_and_kept(tmp_path):
    path = tmp_path / "texts.jsonl"
    big = "word " * (1 << 18)
    _write_jsonl(path, [*_good_rows(), {"text": big, "label": "refund"}])

    frame, _, _ = read_texts(path, text_column="text", label="label", id_column=None)

    assert frame["text"][-1] == big


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            {"text_column": "text"},
            r"text column 'text' is not in .*: body, category\. Fix `text_co",
        ),
        ({"label": "label"}, r"label column 'label' is not in .*: body, category\. Fix `label`"),
        ({"id_column": "ticket"}, r"id column 'ticket' is not in .*: body, category\. Fix `id_c"),
    ],
)
def test_a_missing_column_names_its_key_and_only_the_files_own_columns(
    tmp_path, suffix, names, expected
):
    path = tmp_path / f"texts{suffix}"
    rows = pl.DataFrame({"body": ["x", "y", "z"], "category": ["a", "a", "b"]})
    {".jsonl": rows.write_ndjson, ".csv": rows.write_csv, ".parquet": rows.write_parquet}[suffix](
        path
    )
    keys = {"text_column": "body", "label": "category", "id_column": None} | names

    with pytest.raises(DataError, match=expected) as raised:
        read_texts(path, **keys)

    # Not the columns this module adds (the problem mark, the row ids).
    assert "row_id" not in str(raised.value)
    assert "problem" not in str(raised.value)


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ([1, "1", True], r'1 \(number\), "1" \(string\), true \(boolean\)'),
        (["refund", 2, "refund"], r'"refund" \(string\), 2 \(number\)'),
    ],
)
def test_labels_of_mixed_json_types_are_refused_naming_values_and_types(tmp_path, values, shown):
    path = tmp_path / "texts.jsonl"
    _write_jsonl(path, [{"text": f"text {i}", "label": value} for i, value in enumerate(values)])

    with pytest.raises(DataError, match=rf"column 'label' in .* types \({shown}\).*one type"):
        read_texts(path, text_column="text", label="label", id_column=None)


def test_ids_of_mixed_json_types_are_refused_and_one_type_is_read(tmp_path):
    mixed, same = tmp_path / "mixed.jsonl", tmp_path / "same.jsonl"
    _write_jsonl(
        mixed, [{"text": "a", "label": "x", "id": 7}, {"text": "b", "label": "x", "id": "7"}]
    )
    _write_jsonl(same, [{"text": "a", "label": 1, "id": 7}, {"text": "b", "label": 2, "id": 8}])

    with pytest.raises(DataError, match=r"column 'id' in .*7 \(number\), \"7\" \(string\)"):
        read_texts(mixed, text_column="text", label="label", id_column="id")
    frame, _, _ = read_texts(same, text_column="text", label="label", id_column="id")
    assert frame["label"].to_list() == [1, 2]


def test_duplicates_after_normalisation_share_a_group_key_across_classes(tmp_path):
    frame = pl.DataFrame(
        {
            "row_id": [1, 2, 3, 4],
            "text": ["Refund  please", "refund please\n", "REFUND PLEASE", "something else"],
            "label": ["refund", "refund", "order", "order"],
        }
    )
    keys = TEXT.split_keys(frame, COLUMNS, text_config(tmp_path))

    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert duplicate_stats(frame, text="text", label="label") == {
        "duplicate_text_rows": 3,
        "duplicate_texts_across_classes": 1,
    }


def test_repeated_ids_are_an_error_naming_the_column(tmp_path):
    path = tmp_path / "texts.jsonl"
    rows = [{"id": f"T{i % 12}", **row} for i, row in enumerate(_good_rows())]
    _write_jsonl(path, rows)
    frame, columns, _ = read_texts(path, text_column="text", label="label", id_column="id")

    with pytest.raises(DataError, match=r"id column 'id' of .* repeats ids \(2 rows, e.g. 'T0'\)"):
        validate_texts(
            frame,
            columns=columns,
            null_policy="fail",
            bad_text_policy="fail",
            dataset="t",
            source=path,
            output_dir=tmp_path / "validation",
        )


@pytest.mark.parametrize("body", [b"caf\xc3\xa9", b"caf\xe9"])  # UTF-8, and not (lossy read)
def test_a_text_column_named_twice_is_refused_whatever_the_encoding(tmp_path, body):
    path = tmp_path / "texts.csv"
    path.write_bytes(b"text,text,label\n" + body + b",b,x\n")

    with pytest.raises(DataError, match=r"has 2 columns named 'text'; give each column its own"):
        read_texts(path, text_column="text", label="label", id_column=None)

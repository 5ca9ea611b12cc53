"""Expectations in the config: GX's names and kwargs, checked when the config loads without
importing Great Expectations, and a suite JSON file read with its severities."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rebalance.config import load_config, parse_config
from rebalance.config import make_expectation_vocabulary as make
from rebalance.config.expectations import EXPECTATION_NAMES, check_kwargs
from rebalance.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BASE = {"name": "d", "source": "nowhere.csv", "label": "y"}


def _config(*entries, **validation):
    return parse_config({**BASE, "validation": {"expectations": list(entries), **validation}})


def test_class_and_snake_case_names_give_the_class_name_and_default_to_fail():
    config = _config(
        {"expectation": "expect_column_values_to_be_between", "kwargs": {"column": "a"}},
        {"expectation": "ExpectTableRowCountToBeBetween", "severity": "warn"},
    )

    found = [(e.expectation, e.severity) for e in config.validation.expectations]
    assert found == [
        ("ExpectColumnValuesToBeBetween", "fail"),
        ("ExpectTableRowCountToBeBetween", "warn"),
    ]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"expectation": "ExpectColumnValuesToBeBetwen", "kwargs": {"column": "a"}},
            r"'validation\.expectations\.0\.expectation': unknown expectation "
            r"'ExpectColumnValuesToBeBetwen'; did you mean ExpectColumnValuesToBeBetween",
        ),
        (
            {"expectation": "expect_column_values_to_be_uniqe", "kwargs": {"column": "a"}},
            r"did you mean expect_column_values_to_be_unique",
        ),
        (
            {"expectation": "ExpectColumnValuesToBeBetween", "kwargs": {"colum": "a"}},
            r"'validation\.expectations\.0': ExpectColumnValuesToBeBetween has no kwarg "
            r"'colum' \(did you mean 'column'\?\)",
        ),
        (
            {"expectation": "ExpectColumnValuesToBeInSet", "kwargs": {"column": "a"}},
            r"ExpectColumnValuesToBeInSet needs kwarg\(s\) value_set",
        ),
        (
            {
                "expectation": "ExpectColumnValuesToBeInSet",
                "kwargs": {"column": "a", "value_set": "x"},
            },
            r"kwarg 'value_set' of ExpectColumnValuesToBeInSet must be a list or a mapping, "
            r"got 'x'",
        ),
        (
            {
                "expectation": "ExpectColumnValuesToBeBetween",
                "kwargs": {"column": "a", "mostly": 2},
            },
            r"kwarg 'mostly' of ExpectColumnValuesToBeBetween must be a number in \[0\.0, 1\.0\]",
        ),
        (
            {"expectation": "ExpectColumnValuesToMatchLikePattern", "kwargs": {"column": "a"}},
            r"ExpectColumnValuesToMatchLikePattern does not run on pandas data",
        ),
        (
            {"expectation": "ExpectTableRowCountToBeBetween", "severity": "error"},
            r"'validation\.expectations\.0\.severity'",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_it_and_the_closest_names(entry, expected):
    with pytest.raises(ConfigError, match=expected):
        _config(entry)


def _suite(path: Path, *expectations) -> Path:
    path.write_text(json.dumps({"name": "s", "expectations": list(expectations)}))
    return path


def test_a_suite_file_relative_to_the_config_gives_fail_unless_meta_says_warn(tmp_path):
    _suite(
        tmp_path / "suite.json",
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
        {
            "type": "expect_column_max_to_be_between",
            "kwargs": {"column": "a", "max_value": 3},
            "meta": {"severity": "warn"},
        },
        # GX 0.x wrote `expectation_type`; GX 1.x's own severity says warning.
        {"expectation_type": "expect_table_row_count_to_be_between", "severity": "warning"},
    )
    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                **BASE,
                "validation": {
                    "expectations": [
                        {"expectation": "ExpectColumnToExist", "kwargs": {"column": "b"}}
                    ],
                    "expectation_suite": "suite.json",
                },
            }
        )
    )

    validation = load_config(config_path).validation

    assert validation.expectation_suite == tmp_path / "suite.json"
    assert [(e.expectation, e.severity) for e in validation.declared_expectations()] == [
        ("ExpectColumnToExist", "fail"),
        ("ExpectColumnValuesToNotBeNull", "fail"),
        ("ExpectColumnMaxToBeBetween", "warn"),
        ("ExpectTableRowCountToBeBetween", "warn"),
    ]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            [{"type": "expect_column_values_to_be_between", "kwargs": {"colum": "a"}}],
            r"expectations\[0\] of .*suite\.json \(expect_column_values_to_be_between\): "
            r"ExpectColumnValuesToBeBetween has no kwarg 'colum'",
        ),
        (
            [{"type": "expect_table_row_count_to_be_between"}, {"type": "expect_nothing"}],
            r"expectations\[1\] of .*suite\.json \(expect_nothing\): unknown expectation",
        ),
        (
            [{"type": "expect_table_row_count_to_be_between", "meta": {"severity": "loud"}}],
            r"expectations\[0\] of .*suite\.json: meta\.severity 'loud' must be fail or warn",
        ),
    ],
)
def test_a_bad_suite_entry_is_refused_naming_the_file_and_the_entry(tmp_path, entries, expected):
    suite = _suite(tmp_path / "suite.json", *entries)

    with pytest.raises(ConfigError, match=expected):
        parse_config({**BASE, "validation": {"expectation_suite": str(suite)}})


def test_a_missing_or_malformed_suite_file_is_refused(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")

    with pytest.raises(ConfigError, match=r"expectation suite .*absent\.json not found"):
        parse_config({**BASE, "validation": {"expectation_suite": str(tmp_path / "absent.json")}})
    with pytest.raises(ConfigError, match=r"list\.json has no 'expectations' list"):
        parse_config({**BASE, "validation": {"expectation_suite": str(tmp_path / "list.json")}})
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match=r"deep\.json nests lists or objects too deeply"):
        parse_config({**BASE, "validation": {"expectation_suite": str(tmp_path / "deep.json")}})


def test_loading_a_config_with_expectations_does_not_import_great_expectations():
    code = (
        "import sys; from rebalance.config import parse_config; "
        "parse_config({'name': 'd', 'source': 'x.csv', 'label': 'y', 'validation': "
        "{'expectations': [{'expectation': 'ExpectColumnValuesToBeUnique', "
        "'kwargs': {'column': 'y'}}]}}); "
        "print('great_expectations' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert shown.stdout.strip() == "False"


@pytest.mark.slow
def test_the_committed_vocabulary_is_generated_from_the_installed_great_expectations():
    committed = make.OUTPUT.read_text(encoding="utf-8")

    assert make.render() == committed, (
        "rebalance/config/expectation_vocabulary.py is out of date: run "
        "`.venv/bin/python -m rebalance.config.make_expectation_vocabulary`"
    )


# kwargs a YAML file can give, right and wrong, for expectations of every domain (each
# case meets GX's checks that relate kwargs, such as "min_value or max_value").
CASES = [
    ("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": 0, "max_value": 5}),
    ("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": "2024-01-01"}),
    ("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": "soon"}),
    ("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": 0, "mostly": 0.5}),
    ("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": 0, "mostly": 1.5}),
    ("ExpectColumnValuesToBeBetween", {"column": 3, "min_value": 0}),
    ("ExpectColumnValuesToBeBetween", {"min_value": 0}),
    ("ExpectColumnValuesToBeInSet", {"column": "a", "value_set": [1, 2]}),
    ("ExpectColumnValuesToBeInSet", {"column": "a", "value_set": 3}),
    ("ExpectColumnValuesToBeUnique", {"column": "a", "mostly": 0.9}),
    ("ExpectColumnValuesToBeUnique", {"column": "a", "mostly": "most"}),
    ("ExpectCompoundColumnsToBeUnique", {"column_list": ["a", "b"], "ignore_row_if": "never"}),
    ("ExpectCompoundColumnsToBeUnique", {"column_list": ["a", "b"], "ignore_row_if": "sometimes"}),
    ("ExpectColumnPairValuesToBeEqual", {"column_A": "a", "column_B": "b"}),
    ("ExpectCompoundColumnsToBeUnique", {"column_list": ["a", "b"]}),
    ("ExpectCompoundColumnsToBeUnique", {"column_list": "a"}),
    ("ExpectTableRowCountToBeBetween", {"min_value": 10}),
    ("ExpectTableRowCountToBeBetween", {"min_value": "ten"}),
    ("ExpectTableRowCountToEqual", {"value": 10}),
    ("ExpectTableColumnsToMatchSet", {"column_set": ["a"], "exact_match": False}),
    ("ExpectColumnValuesToBeOfType", {"column": "a", "type_": "int64"}),
    ("ExpectColumnValuesToMatchRegex", {"column": "a", "regex": "^x"}),
]
# GX's pydantic (v1) coerces these, and takes them; the config refuses them as the mistakes
# they are: the string "yes" for a boolean, a list of two-letter strings for a regex (which
# pydantic turns into the mapping {"^": "x"}).
COERCED = [
    ("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": 0, "strict_min": "yes"}),
    ("ExpectColumnValuesToMatchRegex", {"column": "a", "regex": ["^x"]}),
]


def _accepted_by_gx(expectation, kwargs):
    import great_expectations as gx
    from great_expectations.compatibility.pydantic import ValidationError

    try:
        getattr(gx.expectations, expectation)(**kwargs)
    except ValidationError:
        return False
    return True


def _accepted_by_config(expectation, kwargs):
    try:
        check_kwargs(expectation, kwargs)
    except ValueError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize(("expectation", "kwargs"), CASES)
def test_the_config_refuses_exactly_the_kwargs_great_expectations_refuses(expectation, kwargs):
    assert _accepted_by_config(expectation, kwargs) == _accepted_by_gx(expectation, kwargs)


@pytest.mark.slow
@pytest.mark.parametrize(("expectation", "kwargs"), COERCED)
def test_the_config_refuses_values_gx_only_takes_by_coercing_them(expectation, kwargs):
    assert _accepted_by_gx(expectation, kwargs)
    assert not _accepted_by_config(expectation, kwargs)


def test_the_vocabulary_names_the_common_expectations():
    assert {
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToBeUnique",
        "ExpectTableRowCountToBeBetween",
        "ExpectColumnValuesToBeOfType",
        "ExpectColumnDistinctValuesToEqualSet",
    } <= set(EXPECTATION_NAMES)

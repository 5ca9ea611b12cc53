"""What a run reads from GX's validation results: outcomes, phrases, batches added up."""

import pytest

from rebalance.errors import ValidationFailed
from validations.expectations import (
    DECLARED,
    NULL_CHECK,
    Outcome,
    check_outcomes,
    combine_batches,
    observed,
    outcomes,
)


def _item(kind, kwargs, result, *, success=True, meta=None, error=None):
    return {
        "success": success,
        "expectation_config": {"type": kind, "kwargs": kwargs, "meta": meta or {}},
        "result": result,
        "exception_info": error
        or {"raised_exception": False, "exception_message": None, "exception_traceback": None},
    }


def _declared(order, name, severity):
    return {"added_by": DECLARED, "order": order, "expectation": name, "severity": severity}


def _result(*items):
    return {"success": all(item["success"] for item in items), "results": list(items), "meta": {}}


@pytest.mark.parametrize(
    ("result", "error", "expected"),
    [
        ({"observed_value": 8}, None, "observed value 8"),
        (
            {
                "element_count": 10,
                "unexpected_count": 2,
                "unexpected_percent": 25.0,
                "missing_count": 2,
                "partial_unexpected_list": [-1, "x"],
            },
            None,
            "2 unexpected of 8 non-null values (25.00%), e.g. -1, 'x'",
        ),
        (
            {"element_count": 4, "unexpected_count": 1, "partial_unexpected_list": [None]},
            None,
            "1 unexpected of 4 values",
        ),
        ({"observed_value": None, "unexpected_count": 0}, None, "0 unexpected value(s)"),
        (
            {},
            # GX keys a metric it could not compute by the metric's id.
            {"metric-id": {"exception_message": 'The column "b" does not exist.\nTraceback'}},
            'an error: The column "b" does not exist.',
        ),
    ],
)
def test_observed_phrases_what_gx_found(result, error, expected):
    assert observed(_item("t", {}, result, error=error)) == expected


def test_outcomes_are_the_declared_expectations_in_the_configs_order():
    result = _result(
        _item("expect_table_row_count_to_be_between", {"min_value": 1}, {"observed_value": 3},
              meta=_declared(1, "ExpectTableRowCountToBeBetween", "fail")),
        _item("expect_column_values_to_not_be_null", {"column": "a"},
              {"element_count": 3, "unexpected_count": 0}, meta={"added_by": NULL_CHECK}),
        _item("expect_column_max_to_be_between", {"column": "a", "batch_id": "x"},
              {"observed_value": 9}, success=False,
              meta=_declared(0, "ExpectColumnMaxToBeBetween", "warn")),
    )  # fmt: skip

    found = outcomes(result)

    assert [(o.expectation, o.status, o.kwargs) for o in found] == [
        ("ExpectColumnMaxToBeBetween", "warning", {"column": "a"}),
        ("ExpectTableRowCountToBeBetween", "passed", {"min_value": 1}),
    ]


def test_only_a_missed_fail_expectation_stops_the_run_naming_it_and_what_was_observed():
    warned = Outcome(
        "ExpectColumnMaxToBeBetween", {"column": "a"}, "warn", False, "observed value 9"
    )
    failed = Outcome(
        "ExpectColumnPairValuesToBeEqual",
        {"column_A": "a", "column_B": "b"},
        "fail",
        False,
        "3 unexpected of 10 values (30.00%)",
    )

    check_outcomes([warned], dataset="d")
    with pytest.raises(ValidationFailed) as raised:
        check_outcomes([warned, failed], dataset="d")

    message = str(raised.value)
    assert message.startswith("1 expectation(s) of severity fail not met by 'd': ")
    assert (
        "ExpectColumnPairValuesToBeEqual on columns 'a', 'b' found 3 unexpected of 10 values"
        in message
    )
    assert "ExpectColumnMaxToBeBetween" not in message


def _between(result, *, success, mostly=None):
    kwargs = {"column": "a", "min_value": 0} | ({"mostly": mostly} if mostly else {})
    return _item("expect_column_values_to_be_between", kwargs, result, success=success)


def test_batches_add_up_the_counts_of_a_map_expectation_and_judge_mostly_on_the_sums():
    # 3 unexpected of 20 non-null values: 85% >= mostly 0.8 overall, though batch 1 is 70%.
    batches = [
        _result(_between({"element_count": 11, "unexpected_count": 3, "missing_count": 1,
                          "partial_unexpected_list": [-1, -2, -3]}, success=False, mostly=0.8)),
        _result(_between({"element_count": 10, "unexpected_count": 0, "missing_count": 0,
                          "partial_unexpected_list": []}, success=True, mostly=0.8)),
    ]  # fmt: skip

    combined = combine_batches(batches)

    (item,) = combined["results"]
    assert item["success"] is True
    assert combined["success"] is True
    assert item["result"]["element_count"] == 21
    assert item["result"]["unexpected_count"] == 3
    assert item["result"]["missing_count"] == 1
    assert item["result"]["unexpected_percent"] == pytest.approx(15.0)
    assert item["result"]["partial_unexpected_list"] == [-1, -2, -3]
    assert combined["meta"]["batches"] == 2
    assert combined["statistics"]["successful_expectations"] == 1


def test_batches_fail_a_map_expectation_when_the_sums_miss_mostly():
    batches = [
        _result(_between({"element_count": 10, "unexpected_count": 1}, success=True, mostly=0.9)),
        _result(_between({"element_count": 10, "unexpected_count": 2}, success=False, mostly=0.9)),
    ]

    assert combine_batches(batches)["results"][0]["success"] is False


def test_an_aggregate_expectation_is_judged_per_batch_and_shows_the_first_failing_batch():
    def rows(count, success):
        return _result(
            _item("expect_table_row_count_to_be_between", {"min_value": 5},
                  {"observed_value": count}, success=success)
        )  # fmt: skip

    combined = combine_batches([rows(6, True), rows(3, False), rows(2, False)])

    (item,) = combined["results"]
    assert item["success"] is False
    assert item["result"] == {"observed_value": 3}
    assert combined["statistics"]["unsuccessful_expectations"] == 1

"""Retry policy: transient faults are retried with backoff, bad input is not retried."""

import pytest

from rebalance.config import parse_config
from rebalance.errors import DataError
from tasks.core.retry import step as _task
from tasks.core.retry import with_policy

pytestmark = pytest.mark.flow

CONFIG = parse_config(
    {"name": "r", "source": "x.csv", "label": "y", "retries": 2, "retry_delay_seconds": 0}
)


def _counting_flow(failure: Exception, failures: int):
    from prefect import flow

    calls = []

    @_task("flaky")
    def flaky() -> int:
        calls.append(1)
        if len(calls) <= failures:
            raise failure
        return len(calls)

    @flow
    def run() -> int:
        return with_policy(flaky, CONFIG)()

    return run, calls


def test_a_transient_fault_is_retried_until_it_succeeds(prefect_harness):
    run, calls = _counting_flow(OSError("disk hiccup"), failures=2)

    assert run() == 3
    assert len(calls) == 3


def test_bad_input_is_not_retried(prefect_harness):
    run, calls = _counting_flow(DataError("bad column"), failures=5)

    with pytest.raises(DataError, match="bad column"):
        run()
    assert len(calls) == 1


def test_retry_delays_back_off_exponentially():
    config = parse_config(
        {"name": "r", "source": "x.csv", "label": "y", "retries": 3, "retry_delay_seconds": 2}
    )

    policy = with_policy(_task("noop")(lambda: None), config)

    assert policy.retries == 3
    assert policy.retry_delay_seconds == [2, 4, 8]

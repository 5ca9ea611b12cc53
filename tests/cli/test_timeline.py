"""The run's timeline line (REBALANCE_TIMELINE): marks since process start, parsed back."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rebalance.timeline import Timeline, parse


def test_marks_count_from_process_start_and_parse_back(capsys):
    timeline = Timeline(enabled=True)
    timeline.mark("now")
    timeline.mark("a_second_ago", time.time() - 1.0)
    timeline.mark("from_datetime", datetime.now(UTC))
    timeline.print()

    marks = parse(capsys.readouterr().err)

    assert list(marks) == ["now", "a_second_ago", "from_datetime"]
    # The test process started before this test ran (interpreter, pytest's imports), and
    # /proc's start time is within 10 ms.
    assert marks["now"] > 0.05
    assert abs(marks["now"] - marks["a_second_ago"] - 1.0) < 0.01
    assert 0 <= marks["from_datetime"] - marks["now"] < 1.0


def test_disabled_timeline_prints_nothing(capsys, monkeypatch):
    monkeypatch.delenv("REBALANCE_TIMELINE", raising=False)
    timeline = Timeline.from_environment()
    timeline.mark("now")
    timeline.print()

    assert not timeline.enabled
    assert capsys.readouterr().err == ""
    assert parse("rebalance: something else\n") == {}


def test_parse_takes_the_last_timeline_line():
    stderr = "rebalance: timeline: a=1.000\nnoise\nrebalance: timeline: a=2.500 b=3.000\n"

    assert parse(stderr) == {"a": 2.5, "b": 3.0}

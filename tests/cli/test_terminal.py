"""The terminal's copy of a run's log: no traceback, a failure's message not repeated."""

import logging
import sys

import pytest

from rebalance.terminal import HIDDEN, TerminalFilter, shorten

MESSAGE = "null values in 'status' (1); fix the data or set validation.null_policy: drop"


class _Failure(Exception):
    pass


def _record(name, level, msg, args=(), *, exc=None):
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def _raised():
    try:
        raise _Failure(MESSAGE)
    except _Failure as exc:
        return exc


@pytest.mark.parametrize(
    ("name", "level", "msg", "args", "with_exc", "expected"),
    [
        # The four copies Prefect's engines log of one failure.
        (
            "prefect.task_runs",
            logging.ERROR,
            "Task run failed with exception: %r",
            "exc",
            True,
            "Task run failed with exception: _Failure",
        ),
        (
            "prefect.task_runs",
            logging.ERROR,
            f"Finished in state Failed('Task run encountered an exception _Failure: {MESSAGE}')",
            (),
            False,
            "Finished in state Failed",
        ),
        (
            "prefect.flow_runs",
            logging.ERROR,
            "Encountered exception during execution: %r",
            "exc",
            True,
            "Encountered exception during execution: _Failure",
        ),
        (
            "prefect.flow_runs",
            logging.INFO,  # as the flow engine logs it
            f"Finished in state Failed('Flow run encountered an exception: _Failure: {MESSAGE}')",
            (),
            False,
            "Finished in state Failed",
        ),
        # A retry names the exception too, and the next attempt says whether it failed.
        (
            "prefect.task_runs",
            logging.INFO,
            "Task run failed with %s: %r - Retry %s/%s will start %s",
            ("exception", "exc", 1, 2, "immediately"),
            False,
            "Task run failed with exception: _Failure - Retry 1/2 will start immediately",
        ),
    ],
)
def test_a_run_engine_record_names_the_exception_by_its_type(
    name, level, msg, args, with_exc, expected
):
    exc = _raised()
    args = tuple(exc if arg == "exc" else arg for arg in args) if args != "exc" else (exc,)
    record = _record(name, level, msg, args, exc=exc if with_exc else None)

    TerminalFilter().filter(record)

    assert record.getMessage() == expected
    assert MESSAGE not in logging.Formatter().format(record)
    assert record.exc_info is None


@pytest.mark.parametrize(
    "message",
    [
        "Finished in state Completed()",
        "Finished in state Completed('All states completed.')",
        "tabular rebalancing with: SMOTE",
        # Our own lines keep their text: they say more than the final line.
        f"drift.rows (fail): {MESSAGE}",
    ],
)
def test_other_run_records_are_left_alone(message):
    record = _record("prefect.task_runs", logging.INFO, message)

    assert shorten(record) is None


@pytest.mark.parametrize(
    "text",
    [
        # Great Expectations' renderers write the traceback into the message.
        'Data docs rendering failed for x: OSError: "[Errno 28] No space left on device".  '
        'Traceback: "Traceback (most recent call last):\n  File "a.py", line 1\nOSError"',
        'something failed\nTraceback (most recent call last):\n  File "b.py"\nValueError: x',
    ],
)
def test_a_traceback_written_into_a_message_is_cut_with_a_note(text):
    record = _record("great_expectations.render", logging.ERROR, text)

    TerminalFilter().filter(record)

    shown = record.getMessage()
    assert "Traceback" not in shown and "File " not in shown
    assert shown.endswith(HIDDEN)
    assert shown.startswith(text.split("Traceback")[0].rstrip()[:20])


def test_a_record_with_exc_info_is_shown_without_its_traceback():
    record = _record("some.library", logging.ERROR, "it broke", exc=_raised())

    TerminalFilter().filter(record)

    assert logging.Formatter().format(record) == "it broke"


def test_quiet_terminal_filters_every_terminal_handler_once(monkeypatch):
    from rebalance.terminal import quiet_terminal

    library = logging.getLogger("rebalance-test-library")
    handler = logging.StreamHandler(sys.stderr)
    library.addHandler(handler)
    try:
        quiet_terminal()
        quiet_terminal()

        assert [type(f) for f in handler.filters] == [TerminalFilter]
    finally:
        library.removeHandler(handler)


def test_quiet_terminal_covers_prefects_console_and_internal_handlers():
    import prefect.main  # noqa: F401  # configures Prefect's logging, as the flow's import does
    from prefect.logging.handlers import PrefectConsoleHandler, _SafeStreamHandler

    from rebalance.terminal import quiet_terminal

    quiet_terminal()

    # The root's console handler (flow and task run lines) and prefect._internal's own
    # stderr handler (the client's services: events and logs sent while the server stops).
    consoles = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    # (pytest adds handlers of its own to some loggers: not a terminal's.)
    internal = [
        handler
        for handler in logging.getLogger("prefect._internal").handlers
        if isinstance(handler, _SafeStreamHandler)
    ]
    assert consoles and internal
    for handler in consoles + internal:
        assert any(isinstance(f, TerminalFilter) for f in handler.filters), handler


def test_a_failed_thread_is_one_log_line_without_a_traceback(monkeypatch, capfd):
    import threading

    from rebalance.terminal import quiet_terminal

    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored after
    # Only this test's handler: the root's may still hold a stream an earlier in-process
    # CLI test closed (its "Logging error" traceback is not this test's business).
    monkeypatch.setattr(logging.getLogger("rebalance"), "propagate", False)
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger("rebalance").addHandler(handler)
    try:
        quiet_terminal()

        def fail() -> None:
            raise ConnectionError("the server went away")

        worker = threading.Thread(target=fail, name="events-worker")
        worker.start()
        worker.join()
    finally:
        logging.getLogger("rebalance").removeHandler(handler)

    err = capfd.readouterr().err
    assert "events-worker failed: ConnectionError: the server went away" in err
    assert "Traceback" not in err

"""What the terminal shows of a run's logs without `--debug`: no traceback, and a failure's
message once, on the CLI's final line.

Prefect logs a failed run's message four times (the task run's "failed with exception", its
"Finished in state Failed(...)", the flow run's "Encountered exception during execution" and
its own "Finished in state"), each with the exception's repr, and some libraries write a
traceback into the message itself (Great Expectations' Data Docs renderers log
`... Traceback: "..."` at ERROR). A filter on every handler that writes to the terminal
shortens those records: the exception is named by its type and the traceback is dropped with a
note. Handlers that send elsewhere (Prefect's API log handler, on the run loggers, sees each
record first) keep the whole record, so the Prefect UI shows the message and the traceback.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

# The loggers of Prefect's flow and task run engines.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
HIDDEN = "(traceback hidden; rerun with --debug)"

# States whose message is no failure's: kept as Prefect wrote them.
_FINE_STATES = ("Completed", "Cached")
_FINISHED = re.compile(r"Finished in state (?P<state>\w+)\(.*\)", re.DOTALL)
# A traceback written into a message: Python's header, or Great Expectations' `Traceback: "`.
_TRACEBACK_IN_TEXT = re.compile(r"Traceback(?: \(most recent call last\):|: \")")


class TerminalFilter(logging.Filter):
    """Drop tracebacks, and name a failure's exception by its type, in terminal records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = shorten(record)
        if message is not None:
            record.msg, record.args = message, None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def shorten(record: logging.LogRecord, /) -> str | None:
    """The record's message as the terminal should show it; None if it is fine as it is.

    A run engine's record names each exception it mentions by its type (the message is the
    CLI's final line), its "Finished in state Failed(...)" loses the state's message, and any
    record loses a traceback written into its text.
    """
    message = record.getMessage()
    shortened = message
    if record.name.startswith(RUN_LOGGERS):
        shortened = _without_exception_messages(record, shortened)
        finished = _FINISHED.fullmatch(shortened)
        # The flow engine logs its final state at INFO, failed or not.
        if finished and finished["state"] not in _FINE_STATES:
            shortened = f"Finished in state {finished['state']}"
    found = _TRACEBACK_IN_TEXT.search(shortened)
    if found:
        shortened = f"{shortened[: found.start()].rstrip()} {HIDDEN}"
    return None if shortened == message else shortened


def _without_exception_messages(record: logging.LogRecord, message: str) -> str:
    args = record.args if isinstance(record.args, tuple) else ()
    exceptions = [arg for arg in args if isinstance(arg, BaseException)]
    if record.exc_info and record.exc_info[1] is not None:
        exceptions.append(record.exc_info[1])
    for exc in exceptions:
        message = message.replace(repr(exc), type(exc).__name__)
    return message


def terminal_handlers() -> list[logging.Handler]:
    """Every handler, on any logger, that writes to this process's stderr or stdout: Prefect's
    console handlers (which keep the stream they were configured with) and stream handlers on
    the standard streams."""
    from prefect.logging.handlers import PrefectConsoleHandler, _SafeStreamHandler

    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    found: list[logging.Handler] = []
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            to_terminal = isinstance(handler, PrefectConsoleHandler | _SafeStreamHandler) or (
                isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and stream in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
            )
            if to_terminal and handler not in found:
                found.append(handler)
    return found


def quiet_terminal() -> None:
    """Add `TerminalFilter` to every terminal handler (once each), and log what a failed
    thread would print (a traceback) through them; call it after Prefect has configured
    logging (importing Prefect does) and before the flow runs."""
    for handler in terminal_handlers():
        if not any(isinstance(existing, TerminalFilter) for existing in handler.filters):
            handler.addFilter(TerminalFilter())
    threading.excepthook = _log_thread_failure


def _log_thread_failure(args: threading.ExceptHookArgs, /) -> None:
    # Python prints a thread's uncaught exception with its traceback straight to stderr
    # (Prefect's client services run in threads); a log record goes through the filter.
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    logging.getLogger(__name__).error(
        "%s failed: %s: %s",
        name,
        args.exc_type.__name__,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )

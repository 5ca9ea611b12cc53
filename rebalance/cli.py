"""`rebalance run|validate CONFIG.yaml [--set key.path=value ...] [--debug]`.

On success `run` prints the published run folder as the last line of stdout. On failure the
last line of stderr is one sentence naming what is wrong and what to do; tracebacks are shown
only with `--debug` (Prefect still records them with the run).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import traceback
from pathlib import Path

from rebalance.config import RunConfig, load_config
from rebalance.errors import RebalanceError

# Task runs reach Prefect's database asynchronously; wait this long for them at exit.
RECORD_TIMEOUT_SECONDS = 60.0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rebalance` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config, overrides=args.overrides)
        if args.command == "run":
            print(run(config, debug=args.debug))
        else:
            print(validate(config))
    except RebalanceError as exc:
        return _fail(str(exc), debug=args.debug)
    except KeyboardInterrupt:
        return _fail("interrupted; the run folder was not published", debug=args.debug)
    except Exception as exc:
        reason = f"unexpected {type(exc).__name__}: {exc}; rerun with --debug for the traceback"
        return _fail(reason, debug=args.debug)
    return 0


def run(config: RunConfig, /, *, debug: bool = False) -> str:
    """Run the flow, wait until Prefect has recorded its task runs, return the run folder."""
    from flows.rebalance_flow import rebalance_dataset
    from rebalance.prefect_sync import track_task_runs, wait_until_recorded

    if not debug:
        _hide_tracebacks_in_terminal()
    with track_task_runs() as tracker:
        state = rebalance_dataset(config, return_state=True)
    flow_run_id = state.state_details.flow_run_id
    try:
        wait_until_recorded(
            flow_run_id,
            expected_task_runs=tracker.count(flow_run_id),
            timeout=RECORD_TIMEOUT_SECONDS,
        )
    except TimeoutError as exc:
        logging.getLogger("rebalance").warning("%s", exc)
    return state.result(raise_on_failure=True)


def validate(config: RunConfig, /) -> str:
    """Ingest and validate only (no Prefect, no outputs); returns a summary to print."""
    from tasks.modality import modality_for
    from tasks.report import imbalance_ratio

    modality = modality_for(config.modality)
    method = modality.check_config(config)
    ingested = modality.ingest(config)
    with tempfile.TemporaryDirectory(prefix="rebalance-validate-") as scratch:
        checked = modality.validate(ingested, config, Path(scratch))
    counts = {str(name): count for name, count in checked.class_counts.items()}
    schema = ", ".join(f"{name}: {dtype}" for name, dtype in checked.frame.schema.items())
    with_nulls = {name: count for name, count in checked.null_counts.items() if count}
    lines = [
        f"source: {config.source} ({ingested.rows_read} samples)",
        f"columns: {schema}",
        f"label: {ingested.columns.label}; classes: {counts}; imbalance ratio "
        f"{imbalance_ratio(counts):.2f}",
        f"nulls: {with_nulls or 'none'}; samples dropped: {checked.rows_dropped}",
        *[f"{key}: {value}" for key, value in checked.extra.items()],
        f"rebalancing with: {method or 'none'}",
        "valid",
    ]
    return "\n".join(lines)


def _fail(message: str, *, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    sys.stdout.flush()
    one_line = " ".join(message.split())
    print(f"rebalance: {one_line}", file=sys.stderr)
    return 1


class _NoTraceback(logging.Filter):
    """Keep the log line but drop its traceback (the UI still gets it through the API log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def _hide_tracebacks_in_terminal() -> None:
    # Prefect's console handler sits on the "prefect" logger; its API handler sits on the
    # flow/task run loggers below it and sees each record (with traceback) first.
    for handler in logging.getLogger("prefect").handlers:
        if not any(isinstance(existing, _NoTraceback) for existing in handler.filters):
            handler.addFilter(_NoTraceback())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rebalance",
        description="Validate, split and rebalance an imbalanced classification dataset.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "run the whole pipeline and print the run's output folder"),
        ("validate", "read and validate the data only, and print what was found"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("config", type=Path, help="YAML config file")
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY.PATH=VALUE",
            help="override a config value, e.g. --set split.seed=7 (repeatable)",
        )
        command.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


if __name__ == "__main__":
    sys.exit(main())

"""`rebalance run|validate CONFIG.yaml [--set key.path=value ...] [--debug]` (`run` also
`[--force] [--no-publish]`), `rebalance serve`,
`rebalance rollback CONFIG.yaml [--to RUN_ID]`, `rebalance runs CONFIG.yaml [--json]`.

`run` reuses the published `latest` run instead when data, config and libraries are unchanged
since it (`--force` runs anyway).

On success `run` prints the published run folder as the last line of stdout (with
`--no-publish`, the trial's folder under `<output>/<name>/trials/`; `latest` stays). On
failure the last line of stderr is one sentence naming what is wrong and what to do;
tracebacks are shown only with `--debug` (Prefect still records them with the run).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import traceback
from pathlib import Path

# A Ctrl-C in the second these imports take (pydantic, polars) is an interrupt like any other:
# one line, not a traceback from deep inside a library.
try:
    from rebalance.config import RunConfig, load_config
    from rebalance.deployments import serve_deployments
    from rebalance.embedded_server import EmbeddedServer
    from rebalance.errors import STEP_NOTE, RebalanceError
    from rebalance.terminal import quiet_terminal
    from rebalance.timeline import Timeline, mark_flow_run
    from tasks.core.classes import imbalance_ratio
    from tasks.core.files import OS_ERROR_FIXES, os_error_reason
    from tasks.registry import modality_for
    from tasks.run.listing import list_runs, render_runs, trial_runs
    from tasks.run.preflight import preflight
    from tasks.run.rerun import input_fingerprint, reusable_run
    from tasks.run.rollback import roll_back
except KeyboardInterrupt:
    print("rebalance: interrupted while starting; nothing was written", file=sys.stderr)
    sys.exit(1)

# Task runs reach Prefect's database asynchronously; wait this long for them at exit.
RECORD_TIMEOUT_SECONDS = 60.0
# The most to wait for Prefect's queued logs and events before the embedded server stops.
DRAIN_TIMEOUT_SECONDS = 10.0


def entrypoint() -> None:
    """The `rebalance` console script: `main` in a process of its own."""
    status = main()
    # The interpreter's own teardown after a run (freeing every module of Prefect, Great
    # Expectations, sklearn and pandas, object by object) took 1.9-2.4 s of a 1M-row run
    # on 2 cores, after everything was written and the server stopped. Run what a normal
    # exit runs, in its order (join the threads that are not daemons; atexit: logging's
    # flush, Prefect's workers), flush stdio, then leave.
    for thread in threading.enumerate():
        if not thread.daemon and thread is not threading.main_thread():
            thread.join()
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    A run on the embedded Prefect server stops it before the final line is printed, so
    nothing of its shutdown follows the result.
    """
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args.prefect_file, debug=args.debug)
    try:
        if args.command == "rollback":
            rolled_back = roll_back(load_config(args.config).dataset_dir, to=args.to)
            print(f"rebalance: {rolled_back.describe()}", file=sys.stderr)
            print(rolled_back.folder)
            return 0
        if args.command == "runs":
            print(runs(load_config(args.config).dataset_dir, as_json=args.json))
            return 0
        config = load_config(args.config, overrides=args.overrides)
        # Before Prefect starts: a folder given as a table or a read-only output is one
        # sentence in a second, not an OSError after the server's start.
        preflight(config, modality_for(config.modality))
        if args.command == "run":
            # A trial always runs: it is asked for to see what a setting writes.
            reused = None if args.force or args.no_publish else _reusable_run(config)
            if reused is not None:
                print(
                    f"rebalance: data, config and libraries unchanged since {reused}; "
                    "reusing it (--force reruns)",
                    file=sys.stderr,
                )
                print(reused)
                return 0
            folder = run(config, debug=args.debug, force=args.force, publish=not args.no_publish)
            if args.no_publish:
                print(
                    f"rebalance: trial run in {folder}, not published: `latest`, retention "
                    "and the ready event are untouched",
                    file=sys.stderr,
                )
            print(folder)
        else:
            print(validate(config))
    except RebalanceError as exc:
        return _fail(str(exc), debug=args.debug)
    except KeyboardInterrupt:
        return _fail("interrupted; the run folder was not published", debug=args.debug)
    except Exception as exc:
        return _fail(_describe_unexpected(exc, command=args.command), debug=args.debug)
    return 0


def _reusable_run(config: RunConfig) -> Path | None:
    """The published run this one would reproduce, found without starting Prefect.

    The flow checks the same (for deployments); checking here first saves the embedded
    server's start, most of an unchanged nightly rerun's time.
    """
    return reusable_run(config, input_fingerprint(config, modality_for(config.modality)))


def run(
    config: RunConfig, /, *, debug: bool = False, force: bool = False, publish: bool = True
) -> str:
    """Run the flow, wait until Prefect has recorded its task runs, return the run folder
    (`publish` False: a trial's, under `trials/`, with `latest` left alone)."""
    timeline = Timeline.from_environment()
    timeline.mark("config_checked")
    # Spawned first, so its start-up (~10 s) overlaps the imports below on the other core.
    server = EmbeddedServer.start_unless_configured(debug=debug)
    timeline.mark("prefect_settings_read")
    try:
        # Imported here, not at the top: they import Prefect (seconds), which a bad config,
        # `validate` and `rollback` never need, and which should overlap the server's start.
        from flows.rebalance_flow import rebalance_dataset
        from rebalance.prefect_sync import track_task_runs, wait_until_recorded

        timeline.mark("flow_imported")
        if server is not None:
            # The steps' slow imports (Great Expectations, imblearn) while the server starts:
            # on this thread, since a module imported by two threads at once can fail
            # half-initialised (seen with great_expectations).
            _preload(config)
            timeline.mark("steps_imported")
            from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

            server.wait_ready(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
            timeline.mark("server_ready")
        if not debug:
            quiet_terminal()
        with server.as_api() if server else contextlib.nullcontext():
            with track_task_runs() as tracker:
                state = rebalance_dataset(config, force=force, publish=publish, return_state=True)
            timeline.mark("flow_returned")
            flow_run_id = state.state_details.flow_run_id
            try:
                wait_until_recorded(
                    flow_run_id,
                    expected_task_runs=tracker.count(flow_run_id),
                    timeout=RECORD_TIMEOUT_SECONDS,
                )
            except TimeoutError as exc:
                logging.getLogger("rebalance").warning("%s", exc)
            timeline.mark("task_runs_recorded")
            with contextlib.suppress(Exception):  # a diagnostic: never fail a run over it
                mark_flow_run(timeline, flow_run_id)
    finally:
        if server is not None:
            _drain_prefect_workers()
            timeline.mark("drained")
            _note_server_log(server.stop())
            timeline.mark("server_stopped")
        timeline.print()
    return state.result(raise_on_failure=True)


def _note_server_log(log: Path | None) -> None:
    """One line naming the file that holds what the embedded server wrote to stderr."""
    if log is not None:
        print(
            f"rebalance: Prefect's embedded server wrote errors (a stop while requests were "
            f"in flight does that) to {log}",
            file=sys.stderr,
        )


def _drain_prefect_workers() -> None:
    """Send the logs and events Prefect still queues while the embedded server is up.

    Prefect sends them at interpreter exit otherwise: after an interrupt (whose crash logs are
    still queued) that exit waited a minute and more on the stopped server's address.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=DRAIN_TIMEOUT_SECONDS)


def _preload(config: RunConfig) -> None:
    """Import the modality's slow libraries now; a failure surfaces in the step instead."""
    with contextlib.suppress(Exception):
        modality_for(config.modality).preload()


def validate(config: RunConfig, /) -> str:
    """Ingest and validate only (no Prefect, no outputs); returns a summary to print."""
    modality = modality_for(config.modality)
    method = modality.check_config(config)
    ingested = modality.ingest(config)
    # A run folder of its own: validation writes its report there (and a streamed table's
    # scratch copy beside it), all removed on the way out.
    with tempfile.TemporaryDirectory(prefix="rebalance-validate-") as scratch:
        checked = modality.validate(ingested, config, Path(scratch) / "validation")
        columns = checked.frame.collect_schema().items()
        schema = ", ".join(f"{name}: {dtype}" for name, dtype in columns)
    counts = {str(name): count for name, count in checked.class_counts.items()}
    with_nulls = {name: count for name, count in checked.null_counts.items() if count}
    lines = [
        f"source: {config.source} ({ingested.rows_read} samples)",
        f"columns: {schema}",
        f"label: {ingested.columns.label}; classes: {counts}; imbalance ratio "
        f"{imbalance_ratio(counts):.2f}",
        f"nulls: {with_nulls or 'none'}; samples dropped: {checked.rows_dropped}",
        *[f"{key}: {value}" for key, value in checked.findings.as_manifest().items()],
        *[f"note: {note}" for note in checked.notes],
        *[
            f"expectation {item['expectation']} {item['kwargs']}: {item['status']} "
            f"({item['observed']})"
            for item in checked.expectations
        ],
        f"rebalancing with: {method or 'none'}",
        "valid",
    ]
    return "\n".join(lines)


def runs(dataset_dir: Path, /, *, as_json: bool = False) -> str:
    """The published runs of a dataset, newest first: a table (trial runs counted at its
    end), or a JSON list."""
    summaries = list_runs(dataset_dir)
    if as_json:
        return json.dumps([summary.as_json() for summary in summaries], indent=2)
    return render_runs(summaries, dataset_dir=dataset_dir, trials=len(trial_runs(dataset_dir)))


def _describe_unexpected(exc: Exception, *, command: str = "run") -> str:
    notes = getattr(exc, "__notes__", [])
    step = next(
        (note.removeprefix(STEP_NOTE) for note in notes if note.startswith(STEP_NOTE)), None
    )
    where = f"step '{step}' failed" if step else "failed"
    if isinstance(exc, OSError) and exc.errno in OS_ERROR_FIXES:
        # A disk that filled up or turned read-only during the run: what the pre-flight
        # could not know. The path and the errno say where, the fix what to do.
        unchanged = "the run was not published and `latest`" if command == "run" else "`latest`"
        fix = OS_ERROR_FIXES[exc.errno]
        return f"{where}: {os_error_reason(exc)}; {unchanged} is unchanged: {fix}"
    return f"{where}: {type(exc).__name__}: {exc}; rerun with --debug for the traceback"


def _serve(prefect_file: Path, *, debug: bool) -> int:
    """Serve prefect.yaml's deployments from this process (needs PREFECT_API_URL's server)."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        # Prefect would start a temporary server of its own: one nothing else can reach to
        # trigger the deployments, and one left running if this process is killed.
        return _fail(
            "serve needs a running Prefect server: start one (`make server`) and set "
            "PREFECT_API_URL to its API, e.g. PREFECT_API_URL=http://127.0.0.1:4200/api "
            "(`make serve` does)",
            debug=False,
        )
    try:
        serve_deployments(prefect_file)
    except RebalanceError as exc:
        return _fail(str(exc), debug=debug)
    except KeyboardInterrupt:
        return 0
    return 0


def _fail(message: str, *, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    sys.stdout.flush()
    one_line = " ".join(message.split())
    print(f"rebalance: {one_line}", file=sys.stderr)
    return 1


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
    commands.choices["run"].add_argument(
        "--force",
        action="store_true",
        help="run even when data, config and libraries are unchanged since `latest`",
    )
    commands.choices["run"].add_argument(
        "--no-publish",
        action="store_true",
        help="a trial: write the complete run folder under <output>/<name>/trials/ but leave "
        "`latest`, retention and the ready event alone (always runs)",
    )
    rollback = commands.add_parser(
        "rollback", help="point `latest` back at the previous run (or --to RUN_ID)"
    )
    rollback.add_argument("config", type=Path, help="YAML config file of the dataset")
    rollback.add_argument("--to", metavar="RUN_ID", help="the run to point `latest` at")
    rollback.add_argument("--debug", action="store_true", help="show tracebacks")
    listing = commands.add_parser(
        "runs", help="list the published runs, newest first, and which one is `latest`"
    )
    listing.add_argument("config", type=Path, help="YAML config file of the dataset")
    listing.add_argument("--json", action="store_true", help="print a JSON list instead")
    listing.add_argument("--debug", action="store_true", help="show tracebacks")
    serve = commands.add_parser(
        "serve", help="serve the deployments of deployments/prefect.yaml from this process"
    )
    serve.add_argument(
        "--prefect-file",
        type=Path,
        default=Path("deployments/prefect.yaml"),
        help="the prefect.yaml to serve (default: deployments/prefect.yaml)",
    )
    serve.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


if __name__ == "__main__":
    entrypoint()

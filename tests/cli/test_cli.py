"""The `rebalance` command end to end, in its own processes, on a fresh embedded Prefect server."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import polars as pl
import pytest

from tests.helpers import loans_frame, write_config

pytestmark = pytest.mark.slow

# check-config, check-unchanged, ingest, validate, drift, split, evaluate, rebalance, report,
# verify, publish, announce-ready
TASKS_PER_RUN = 12


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory):
    return tmp_path_factory.mktemp("prefect-home")


def _rebalance(*args, home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "rebalance.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )


def test_run_prints_the_folder_last_and_every_task_run_is_recorded(tmp_path, prefect_home):
    loans_frame(200).write_csv(tmp_path / "d.csv")
    config = write_config(tmp_path, "d.csv")

    done = _rebalance("run", str(config), home=prefect_home)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "View at" not in done.stderr
    assert "Traceback" not in done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert (run_dir / "manifest.json").is_file()
    assert run_dir.parent == tmp_path / "out" / "t"
    flow_run_id = json.loads((run_dir / "manifest.json").read_text())["prefect"]["flow_run_id"]
    # Read Prefect's database after the process has exited: only what reached it counts.
    with sqlite3.connect(prefect_home / "prefect.db") as db:
        recorded = db.execute(
            "select count(*) from task_run where flow_run_id = ? and state_type = 'COMPLETED'",
            (flow_run_id,),
        ).fetchone()[0]
    assert recorded == TASKS_PER_RUN


def test_a_failed_run_ends_stderr_with_one_sentence_and_no_traceback(tmp_path, prefect_home):
    # A null label: the config is fine, the run fails in its validate step.
    frame = loans_frame(60)
    null_label = pl.when(pl.int_range(pl.len()) == 7).then(None).otherwise(pl.col("status"))
    frame.with_columns(null_label.alias("status")).write_csv(tmp_path / "d.csv")
    config = write_config(tmp_path, "d.csv")

    done = _rebalance("run", str(config), home=prefect_home)

    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rebalance: null values in 'status' (1); fix the data")
    assert "Traceback" not in done.stderr
    # The message once, last (Prefect's engines log it four times: see rebalance.terminal);
    # the log still says which task failed.
    assert done.stderr.count("null values in 'status'") == 1, done.stderr
    assert "Task run 'validate-" in done.stderr and "Finished in state Failed" in done.stderr
    # The embedded server has no UI: no link to one.
    assert "View at" not in done.stderr
    assert done.stdout.strip() == "" or not Path(done.stdout.strip().splitlines()[-1]).exists()
    # Nothing is published; the dataset's Data Docs list the failed validation.
    left = {
        path.relative_to(tmp_path / "out" / "t").parts[0]
        for path in (tmp_path / "out").rglob("*")
        if path != tmp_path / "out" / "t"
    }
    assert left == {"data_docs"}
    assert "✖ Failed" in (tmp_path / "out" / "t" / "data_docs" / "index.html").read_text()


def test_debug_shows_the_traceback(tmp_path, prefect_home):
    config = write_config(tmp_path, "missing.csv")

    done = _rebalance("validate", str(config), "--debug", home=prefect_home)

    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("rebalance: source file not found")


def test_serve_without_a_server_is_refused_before_prefect_starts_one(tmp_path):
    # Prefect would start a temporary server, which a killed `serve` would leave running.
    done = _rebalance("serve", home=tmp_path)

    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rebalance: serve needs a running Prefect server")
    assert "PREFECT_API_URL=" in last
    assert not (tmp_path / "prefect.db").exists()


def test_validate_reports_classes_and_nulls(tmp_path, prefect_home):
    loans_frame(80).write_csv(tmp_path / "d.csv")
    config = write_config(tmp_path, "d.csv")

    done = _rebalance("validate", str(config), home=prefect_home)

    assert done.returncode == 0, done.stderr
    assert "classes: {'Approved':" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "valid"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["rebalance.sampler=SMOOTE"], "unknown sampler 'SMOOTE'; did you mean SMOTE"),
        (["rebalance.params={k_neighbors: 0}"], "'k_neighbors' parameter of SMOTE must be"),
        (["split.seed=-1"], "'split.seed': Input should be greater than or equal to 0"),
        (["label=Status"], "label column 'Status' is not in"),
    ],
)
def test_a_bad_config_fails_in_under_two_seconds_before_prefect_starts(
    tmp_path, overrides, expected
):
    home = tmp_path / "prefect-home"  # a server that started would create its database here
    loans_frame(60).write_csv(tmp_path / "d.csv")
    config = write_config(tmp_path, "d.csv")
    sets = [argument for override in overrides for argument in ("--set", override)]

    for command in ("run", "validate"):
        started = time.perf_counter()
        done = _rebalance(command, str(config), *sets, home=home)
        seconds = time.perf_counter() - started

        assert done.returncode == 1
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(f"rebalance: {config}: ") and expected in last
        assert seconds < 2.0, f"{command} took {seconds:.2f} s"
    assert not (home / "prefect.db").exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("output is a file", "is a file; point `output` at a folder"),
        ("table source is a folder", "is a folder, not a file; point `source` at the data file"),
        ("image source is a file", "is neither a folder nor a CSV/Parquet table"),
        ("output is read-only", "cannot be written (permission denied (EACCES)"),
    ],
)
def test_a_source_or_output_that_cannot_work_fails_in_under_two_seconds_before_prefect_starts(
    tmp_path, case, expected
):
    if case == "output is read-only" and os.geteuid() == 0:
        pytest.skip("root writes into a chmod 555 folder")
    home = tmp_path / "prefect-home"
    loans_frame(60).write_csv(tmp_path / "d.csv")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / "locked").mkdir(mode=0o555)
    (tmp_path / "afile").write_text("not a folder")
    fields = {
        "output is a file": {"output": str(tmp_path / "afile")},
        "table source is a folder": {"source": str(tmp_path)},
        "image source is a file": {"modality": "image", "source": "photo.png"},
        "output is read-only": {"output": str(tmp_path / "locked")},
    }[case]
    config = write_config(tmp_path, fields.pop("source", "d.csv"), **fields)
    if fields.get("modality") == "image":  # no table columns in an image config
        text = config.read_text().replace("id_column: loan_id\n", "").replace("status", "label")
        config.write_text(text.replace("evaluate:\n  enabled: false\n", ""))

    for command in ("run", "validate"):
        started = time.perf_counter()
        done = _rebalance(command, str(config), home=home)
        seconds = time.perf_counter() - started

        assert done.returncode == 1
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("rebalance: ") and expected in last, last
        assert "Traceback" not in done.stderr
        assert seconds < 2.0, f"{command} took {seconds:.2f} s"
    assert not (home / "prefect.db").exists()
    (tmp_path / "locked").chmod(0o755)


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = [int(child) for child in (task / "children").read_text().split()]
                found += children
                queue += children
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_embedded_server_does_not_outlive_a_killed_run(tmp_path, prefect_home):
    loans_frame(200).write_csv(tmp_path / "d.csv")
    config = write_config(tmp_path, "d.csv")
    env = {**os.environ, "PREFECT_HOME": str(prefect_home)}
    env.pop("PREFECT_API_URL", None)
    cli = subprocess.Popen(
        [sys.executable, "-m", "rebalance.cli", "run", str(config), "--force"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started: list[int] = []
    server_log = None
    try:
        # Until the server answers: the moment a run is most often killed (mid-flow).
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and cli.poll() is None:
            started = _descendants(cli.pid)
            servers = [
                pid
                for pid in started
                if b"rebalance.tethered" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]
            if servers:
                # Its stderr is a log file of its own (no traceback reaches the terminal).
                server_log = Path(os.readlink(f"/proc/{servers[0]}/fd/2"))
                cmdline = Path(f"/proc/{servers[0]}/cmdline").read_bytes().split(b"\0")
                port = int(cmdline[cmdline.index(b"--port") + 1])
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                        break
            time.sleep(0.2)
        else:
            pytest.fail("the run's embedded server did not answer")
        started = _descendants(cli.pid)

        cli.kill()
        cli.wait()

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_running(pid) for pid in started):
            time.sleep(0.1)
        assert not [pid for pid in started if _running(pid)], "children outlived the run"
        assert server_log.name.startswith("rebalance-prefect-server-")
    finally:
        if server_log is not None:  # the killed run could not remove it
            server_log.unlink(missing_ok=True)
        for pid in [cli.pid, *started]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

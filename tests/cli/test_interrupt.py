"""Ctrl-C ends every command at once with one line, whatever it is doing, and publishes nothing.

A real process gets a real SIGINT while one of its stages is busy: the stage is replaced by one
that says so on stderr and then sleeps, so the signal lands inside it every time.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import loans_frame, write_config

INTERRUPTED = "rebalance: interrupted; the run folder was not published"
# From SIGINT to exit: the process has nothing left to do but unwind and stop.
EXIT_BOUND_SECONDS = 20

_BUSY = """
import importlib, sys, time
module_name, attribute = sys.argv[1].rsplit(".", 1)
def busy(*args, **kwargs):
    print("BUSY", file=sys.stderr, flush=True)
    time.sleep(600)
setattr(importlib.import_module(module_name), attribute, busy)
from rebalance.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _interrupt_while_busy(stage: str, *args: str, home: Path) -> tuple[int, str, float]:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", _BUSY, stage, *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        lines = []
        while (line := process.stderr.readline()) and line.strip() != "BUSY":
            lines.append(line)
        assert line, f"{stage} never ran: {''.join(lines)[-2000:]}"
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        rest = process.communicate(timeout=EXIT_BOUND_SECONDS * 3)[1]
        return process.returncode, "".join(lines) + rest, time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("stage", "command"),
    [
        ("rebalance.cli.load_config", "validate"),
        ("rebalance.cli.input_fingerprint", "run"),
        ("tasks.tabular.modality.validate_table", "validate"),
    ],
)
def test_ctrl_c_before_prefect_ends_with_one_line(tmp_path, stage, command):
    loans_frame(60).write_csv(tmp_path / "d.csv")
    config = write_config(tmp_path, "d.csv")

    status, err, took = _interrupt_while_busy(stage, command, str(config), home=tmp_path)

    assert status == 1
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in err
    assert took < EXIT_BOUND_SECONDS
    assert not (tmp_path / "out").exists()


@pytest.mark.flow
def test_ctrl_c_inside_the_flow_ends_with_one_line_and_publishes_nothing(tmp_path):
    loans_frame(60).write_csv(tmp_path / "d.csv")
    config = write_config(tmp_path, "d.csv", retries=2, retry_delay_seconds=0)

    status, err, took = _interrupt_while_busy(
        "tasks.tabular.modality.rebalance_table", "run", str(config), home=tmp_path
    )

    assert status == 1
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert took < EXIT_BOUND_SECONDS  # not retried: an interrupt is not a transient fault
    dataset = tmp_path / "out" / "t"
    assert not (dataset / "latest").exists()
    assert not [path for path in dataset.glob("*") if (path / "manifest.json").exists()]

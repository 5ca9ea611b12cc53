"""A tethered child stops when its parent dies, however it dies, or closes the pipe."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rebalance.tethered import tethered_command

# A parent that starts a tethered `python -m http.server` (it never exits by itself), prints
# the child's pid and waits: the test kills it.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from rebalance.tethered import tethered_command

    command = tethered_command("http.server", "0", "--bind", "127.0.0.1")
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    print(child.pid, flush=True)
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) is gone for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("kill_signal", [signal.SIGKILL, signal.SIGTERM])
def test_the_child_stops_when_its_parent_is_killed(kill_signal):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    child = int(parent.stdout.readline())
    try:
        assert _alive(child)

        parent.send_signal(kill_signal)
        parent.wait(timeout=10)

        assert _wait_gone(child, timeout=10), f"tethered child {child} outlived its parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_closing_the_pipe_stops_the_child_with_its_parent_alive():
    # The pipe alone (no parent death signal: the parent lives on) stops the child.
    command = tethered_command("http.server", "0", "--bind", "127.0.0.1")
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(0.5)
        assert child.poll() is None

        child.stdin.close()

        # http.server stops on SIGTERM without a handler of its own: -SIGTERM.
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")
def test_a_parent_gone_before_the_child_started_leaves_no_child():
    # The parent's pid is not this one's parent any more: the child exits at once.
    not_the_parent = str(os.getpid() + 999_999)
    command = tethered_command("http.server", "0", "--bind", "127.0.0.1")
    command[3] = not_the_parent

    done = subprocess.run(command, stdin=subprocess.PIPE, capture_output=True, timeout=30)

    assert done.returncode == 70

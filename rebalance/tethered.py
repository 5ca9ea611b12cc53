"""Run a Python module as a child that dies with its parent: `python -m rebalance.tethered
PARENT_PID MODULE [ARG ...]`, started by `tethered_command` with its stdin a pipe from the
parent.

A child process outlives a parent killed with SIGKILL (the OOM killer, a scheduler's timeout):
nothing runs in the parent to stop it. Two layers stop it here, before MODULE runs as
`python -m MODULE ARG ...` would run it:

- the pipe: the parent holds the only write end of the child's stdin, and the kernel closes
  it whatever way the parent dies, so a thread that reads stdin sees end-of-file and stops
  the child (SIGTERM to itself, so MODULE shuts down as on `terminate()`; a hard exit if it
  has not within `GRACE_SECONDS`). Portable, and it does not depend on which thread started
  the child.
- on Linux, `PR_SET_PDEATHSIG`: the kernel sends SIGTERM when the parent thread that spawned
  the child exits, even if the pipe's write end leaked into another process.

MODULE must not read stdin (uvicorn does not).
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import threading

# How long MODULE gets to stop on SIGTERM before the watchdog exits the process itself.
GRACE_SECONDS = 10.0
# linux/prctl.h
_PR_SET_PDEATHSIG = 1
# Exit status when the parent is gone before MODULE started or it did not stop in time.
_ORPHANED = 70


def tethered_command(module: str, *args: str) -> list[str]:
    """The command that runs `python -m module *args` tethered to this process.

    Start it with `stdin=subprocess.PIPE` and keep the pipe open for the child's lifetime
    (`Popen` keeps it in `process.stdin`); closing it stops the child.
    """
    return [sys.executable, "-m", __name__, str(os.getpid()), module, *args]


def _set_parent_death_signal(parent: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl in this libc: the pipe still holds
        return
    # The parent may have died before prctl: then no signal will ever come.
    if os.getppid() != parent:
        os._exit(_ORPHANED)


def _watch_stdin() -> None:
    """Block until stdin's end-of-file (the parent closed it, or died), then stop."""
    # The file descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader
    # holds its lock, and the interpreter aborts at exit when it cannot take that lock.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    threading.Event().wait(GRACE_SECONDS)
    os._exit(_ORPHANED)


def main(argv: list[str]) -> None:
    """Tether this process to the parent `argv[0]`, then run the module `argv[1]` as
    `__main__` with the arguments `argv[2:]`."""
    if len(argv) < 2 or not argv[0].isdigit():
        msg = "usage: python -m rebalance.tethered PARENT_PID MODULE [ARG ...]"
        raise SystemExit(msg)
    _set_parent_death_signal(int(argv[0]))
    threading.Thread(target=_watch_stdin, name="tethered-watchdog", daemon=True).start()
    sys.argv = argv[1:]
    runpy.run_module(argv[1], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])

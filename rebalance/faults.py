"""Fault injection for reliability tests, switched on only by `REBALANCE_FAULTS`.

`REBALANCE_FAULTS="split:transient:2,publish:kill"` makes the `split` step raise a transient
OSError its first 2 times and kills the process with SIGKILL when `publish` starts. Modes:
`transient[:N]` (OSError the first N times, default 1), `permanent` (OSError every time),
`enospc` (OSError ENOSPC every time) and `kill[:N]` (SIGKILL the Nth time, default the first).
A point is a step's name, `latest` (after the run folder is renamed into place, before
`latest` moves), `data-docs` (before the validate step updates the dataset's Data Docs site),
`augment-image` (before each augmented image) or `translate-batch` (before each `generate`
call), the last two to kill a run in the middle of its longest work. Nothing here runs unless
the variable is set, so a user cannot trip it by accident.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from collections import Counter

ENV = "REBALANCE_FAULTS"
_fired: Counter[str] = Counter()
_lock = threading.Lock()


class InjectedFault(OSError):
    """A fault raised on purpose by `REBALANCE_FAULTS`."""


def inject(point: str, /) -> None:
    """Raise, or kill the process, if `REBALANCE_FAULTS` asks for a fault at `point`."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    for item in spec.split(","):
        name, _, rest = item.strip().partition(":")
        if name != point:
            continue
        mode, _, count = rest.partition(":")
        with _lock:
            _fired[point] += 1
            fired = _fired[point]
        if mode == "kill" and fired >= int(count or 1):
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "enospc":
            raise InjectedFault(errno.ENOSPC, f"No space left on device (injected at {point})")
        if mode == "permanent" or (mode == "transient" and fired <= int(count or 1)):
            raise InjectedFault(errno.EIO, f"injected {mode} fault at {point} (#{fired})")

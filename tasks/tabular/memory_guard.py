"""Fail fast when a sampler's arrays cannot fit in the memory left, before building them.

imblearn works on dense numpy matrices: the features, imblearn's validated copy, the stacked
output (originals plus new rows) and the new rows again as a polars frame. Running out of
memory an hour into a nightly run ends in the kernel's OOM killer, with no message; this
estimate turns it into one line at the start of the rebalance step.
"""

from __future__ import annotations

from pathlib import Path

from rebalance.errors import SamplerError

# Bytes of one cell in each array the resampling holds at its peak (float64 or an object
# pointer); an object cell of a categorical column also holds its string (~56 bytes).
CELL_BYTES = 8
OBJECT_CELL_BYTES = 64
# /sys/fs/cgroup/memory.max when no container limit is set.
UNLIMITED = "max"


def resample_bytes(rows: int, row_bytes: int, new_rows: int) -> int:
    """Peak bytes of the arrays: the matrix and its validated copy, the stacked output, and
    the new rows once more while they become a frame."""
    return row_bytes * (2 * rows + (rows + new_rows) + new_rows)


def available_bytes() -> int | None:
    """Memory this process can still take: the smaller of the machine's available memory and
    what its container (cgroup v2) allows; None where neither can be read."""
    limits = [value for value in (_meminfo_available(), _cgroup_headroom()) if value is not None]
    return min(limits) if limits else None


def refuse_if_too_large(
    *, sampler: str, rows: int, row_bytes: int, new_rows: int, available: int | None = None
) -> int:
    """Raise SamplerError when the estimate exceeds the memory left; returns the estimate."""
    needed = resample_bytes(rows, row_bytes, new_rows)
    free = available_bytes() if available is None else available
    if free is not None and needed > free:
        msg = (
            f"{sampler} on {rows:,} training rows ({new_rows:,} new) needs about "
            f"{_gib(needed)} of memory for its arrays, but {_gib(free)} is available: "
            "undersample the majority first (sampler RandomUnderSampler, or SMOTE with a "
            "sampling_strategy below 1), use RandomOverSampler (no neighbour search, "
            "no new values; with `streaming: {enabled: true}` both random samplers stream "
            "the table), leave wide one-hot categorical columns out of `features`, "
            "or run on a machine with more memory"
        )
        raise SamplerError(msg)
    return needed


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f} GiB"


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == UNLIMITED:
            return None
        return int(limit) - int((root / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None

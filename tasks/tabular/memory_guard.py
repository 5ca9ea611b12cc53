"""Fail fast when a sampler's arrays cannot fit in the memory left, before building them.

imblearn works on dense numpy matrices: the features, imblearn's validated copy, the stacked
output (originals plus new rows) and the new rows again as a polars frame. Running out of
memory an hour into a nightly run ends in the kernel's OOM killer, with no message; this
estimate turns it into one line at the start of the rebalance step.

The streamed SMOTE family (`tasks.tabular.streaming_smote`) holds much less: the rows of the
classes it oversamples, their neighbours, the new rows (SMOTE: one block of them at a time,
plus its draws), and a hash and label of every training row (for contradicting copies);
`streamed_smote_bytes` estimates that, and the in-memory refusal points to streaming when
streaming would fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


# Bytes per training row of the streamed path: its label and hash, and the hash again while
# the batches' hashes are joined.
STREAMED_ROW_BYTES = 8 + 2 * 8
# Bytes per SMOTE draw held while blocks are written: the sample index, row, column, step.
DRAW_BYTES = 4 * 8
# Streamed SMOTE's new rows made, cast and written at once (20 float columns: 40 MiB a copy;
# a block is held about four times while it is made and cast).
STREAMED_BLOCK_ROWS = 1 << 18


def streamed_smote_bytes(
    *,
    rows: int,
    oversampled_rows: int,
    row_bytes: int,
    search_row_bytes: int,
    new_rows: int,
    block_rows: int | None,
    n_neighbors: int,
) -> int:
    """Peak bytes of the streamed SMOTE family.

    Args:
        rows: Training rows (each costs `STREAMED_ROW_BYTES`).
        oversampled_rows: Rows of the classes it oversamples, held as a frame, a matrix and
            one class's copy (`row_bytes` each), searched as `search_row_bytes` (SMOTENC's
            dense one-hot matrix) with `n_neighbors` neighbours each.
        new_rows: Synthetic rows; held all at once (matrix, frame, decoded copy), or, with
            `block_rows` (SMOTE), their draws plus one block.
    """
    held = oversampled_rows * (3 * row_bytes + search_row_bytes + 2 * 8 * n_neighbors)
    if block_rows is None:
        new = 3 * row_bytes * new_rows
    else:
        new = DRAW_BYTES * new_rows + 3 * row_bytes * min(new_rows, block_rows)
    return STREAMED_ROW_BYTES * rows + held + new


def searched_neighbours(estimator: Any) -> int:
    """Neighbours a SMOTE-family sampler searches per row (k + 1, itself included); 6 for
    a search object of its own (imblearn's default k of 5)."""
    k = estimator.k_neighbors
    return k + 1 if isinstance(k, int) else 6


def streamed_smote_estimate(
    name: str,
    *,
    rows: int,
    oversampled_rows: int,
    new_rows: int,
    n_numeric: int,
    n_categorical: int,
    one_hot_columns: int,
    n_neighbors: int,
) -> int:
    """`streamed_smote_bytes` for SMOTE, SMOTENC or SMOTEN (`name`) on these columns: an
    object matrix when some are categorical, SMOTENC's dense search over its numeric and
    `one_hot_columns` columns, and SMOTE's new rows in blocks."""
    cells = CELL_BYTES * n_numeric
    row_bytes = cells + OBJECT_CELL_BYTES * n_categorical if n_categorical else cells
    search = CELL_BYTES * (n_numeric + one_hot_columns) if name == "SMOTENC" else cells
    return streamed_smote_bytes(
        rows=rows,
        oversampled_rows=oversampled_rows,
        row_bytes=row_bytes,
        search_row_bytes=search,
        new_rows=new_rows,
        block_rows=STREAMED_BLOCK_ROWS if name == "SMOTE" else None,
        n_neighbors=n_neighbors,
    )


def available_bytes() -> int | None:
    """Memory this process can still take: the smaller of the machine's available memory and
    what its container (cgroup v2) allows; None where neither can be read."""
    limits = [value for value in (_meminfo_available(), _cgroup_headroom()) if value is not None]
    return min(limits) if limits else None


def refuse_if_too_large(
    *,
    sampler: str,
    rows: int,
    row_bytes: int,
    new_rows: int,
    available: int | None = None,
    streamed: int | None = None,
) -> int:
    """Raise SamplerError when the estimate exceeds the memory left; returns the estimate.

    `streamed`: the peak of the same resampling streamed (`streamed_smote_bytes`), for a
    sampler that streams; when that fits, the message says to turn streaming on.
    """
    needed = resample_bytes(rows, row_bytes, new_rows)
    free = available_bytes() if available is None else available
    if free is not None and needed > free:
        if streamed is not None and streamed <= free:
            msg = (
                f"{sampler} on {rows:,} training rows ({new_rows:,} new) needs about "
                f"{_gib(needed)} of memory in memory, but {_gib(free)} is available; "
                f"streamed it needs about {_gib(streamed)} (only the rows of the classes it "
                "oversamples are held): set `streaming: {enabled: true}` in the config"
            )
            raise SamplerError(msg)
        msg = (
            f"{sampler} on {rows:,} training rows ({new_rows:,} new) needs about "
            f"{_gib(needed)} of memory for its arrays, but {_gib(free)} is available: "
            "undersample the majority first (sampler RandomUnderSampler, or SMOTE with a "
            "sampling_strategy below 1), use RandomOverSampler (no neighbour search, "
            "no new values; with `streaming: {enabled: true}` both random samplers and "
            "SMOTE, SMOTENC and SMOTEN stream the table), leave wide one-hot categorical "
            "columns out of `features`, or run on a machine with more memory"
        )
        raise SamplerError(msg)
    return needed


def refuse_streamed_if_too_large(
    *,
    sampler: str,
    rows: int,
    oversampled_rows: int,
    new_rows: int,
    needed: int,
    available: int | None = None,
) -> int:
    """The streamed SMOTE family's refusal: raise SamplerError when `needed` (its
    `streamed_smote_bytes`) exceeds the memory left; returns `needed`."""
    free = available_bytes() if available is None else available
    if free is not None and needed > free:
        msg = (
            f"{sampler} streamed on {rows:,} training rows needs about {_gib(needed)} of "
            f"memory for the {oversampled_rows:,} rows of the classes it oversamples and "
            f"{new_rows:,} new rows, but {_gib(free)} is available: oversample less "
            "(a sampling_strategy below 1, or a dict of counts per class), use "
            "RandomOverSampler, or run on a machine with more memory"
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

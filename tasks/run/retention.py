"""Delete published runs beyond `retention.keep`, never one a reader or `rollback` may need.

After a run publishes, the dataset folder keeps the run `latest` points at, the run
`rebalance rollback` would go back to (the newest one before `latest`) and the `keep` newest
others; older run folders are deleted. Nothing is deleted while another run of the dataset is
writing (a `.tmp-` folder whose owner is alive, or any on another host): that run may be
comparing its input with a run `latest` pointed at when it started. A run that starts after
this check finds `latest` already moved, and `latest` is never deleted. Two runs pruning at
once take turns through a lock file (the second skips: the first does the same work).

Deleting is housekeeping: a folder that cannot be deleted is reported, never an error.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from tasks.run.folder import LATEST, live_run_folders
from tasks.run.rollback import published_runs

LOCK_FILE = ".retention.lock"
# A run folder is renamed to this hidden name before it is deleted, so a deletion that fails
# half-way leaves no half-deleted folder that looks like a published run.
DELETING_PREFIX = ".deleting-"


@dataclass(frozen=True)
class Pruned:
    """What one pass of retention did: the run ids deleted and kept, and why it stopped early."""

    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None


def runs_to_delete(runs: list[str], /, *, latest: str, keep: int) -> list[str]:
    """Of `runs` (run ids, any order), the ones retention deletes, oldest first.

    Kept: `latest`, the newest run before it (what `rebalance rollback` goes back to) and the
    `keep` newest runs besides `latest`. Run ids sort by their UTC start time.
    """
    ordered = sorted(runs)
    earlier = [run for run in ordered if run < latest]
    protected = {latest, *earlier[-1:]}
    others = [run for run in ordered if run != latest]
    newest = set(others[-keep:]) if keep > 0 else set()
    return [run for run in ordered if run not in protected | newest]


def prune_runs(dataset_dir: Path, /, *, keep: int | None) -> Pruned:
    """Delete the published runs of `dataset_dir` that `retention.keep` no longer keeps.

    Returns what was deleted and kept; a folder that could not be deleted is in `failed`
    (with the reason), and `skipped` says why nothing was looked at.
    """
    if keep is None:
        return Pruned(skipped="retention.keep is not set: every run is kept")
    lock = FileLock(dataset_dir / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return Pruned(skipped="another run of this dataset is deleting old runs right now")
    except OSError as exc:
        return Pruned(skipped=f"cannot take the lock {dataset_dir / LOCK_FILE} ({exc})")
    try:
        return _prune_locked(dataset_dir, keep=keep)
    finally:
        lock.release()


def _prune_locked(dataset_dir: Path, *, keep: int) -> Pruned:
    writing = live_run_folders(dataset_dir)
    if writing:
        names = ", ".join(path.name for path in writing)
        return Pruned(skipped=f"a run of this dataset is writing ({names}); the next run prunes")
    runs = published_runs(dataset_dir)
    latest = _latest_run(dataset_dir)
    if latest not in runs:
        return Pruned(skipped=f"{dataset_dir / LATEST} does not point at a published run")
    doomed = runs_to_delete(runs, latest=latest, keep=keep)
    deleted, failed = [], {}
    for run in doomed:
        hidden = dataset_dir / f"{DELETING_PREFIX}{run}"
        try:
            (dataset_dir / run).rename(hidden)
            shutil.rmtree(hidden)
        except OSError as exc:
            failed[run] = f"{type(exc).__name__}: {exc}"
        else:
            deleted.append(run)
    # Left by an earlier pass whose deletion failed half-way: no longer a run, only bytes.
    for leftover in dataset_dir.glob(f"{DELETING_PREFIX}*"):
        if leftover.name.removeprefix(DELETING_PREFIX) not in failed:
            shutil.rmtree(leftover, ignore_errors=True)
    kept = [run for run in runs if run not in doomed]
    return Pruned(deleted=deleted, kept=kept, failed=failed)


def _latest_run(dataset_dir: Path) -> str | None:
    link = dataset_dir / LATEST
    if not link.is_symlink():
        return None
    return os.path.basename(os.path.realpath(link))

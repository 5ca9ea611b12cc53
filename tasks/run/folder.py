"""Run folders that appear whole or not at all, and the `latest` link that moves atomically.

A run writes into `<output>/<name>/.tmp-<run_id>/`, renamed to `<output>/<name>/<run_id>/`
once complete; then `<output>/<name>/latest` is replaced by a link to it (rename of a new
symlink over the old one is atomic on POSIX). A killed run leaves only its hidden `.tmp-`
folder, which the next run removes once its owner process is gone.

A trial run (`rebalance run --no-publish`, the flow's `publish=False`) writes the same way
but ends in `<output>/<name>/trials/<run_id>/`, and `latest` stays where it was: outside the
dataset folder's run ids, it is no published run, so retention, rollback, the drift guard,
the rerun check and `rebalance runs` never see it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from rebalance import faults

LATEST = "latest"
TRIALS = "trials"
TEMP_PREFIX = ".tmp-"
OWNER_FILE = ".owner.json"


@dataclass(frozen=True)
class RunFolder:
    """Where one run writes (`temp`) and where it ends up (`final`; under `trials/` for a
    trial run, which is not published)."""

    dataset_dir: Path
    run_id: str
    trial: bool = False

    @property
    def temp(self) -> Path:
        return self.dataset_dir / f"{TEMP_PREFIX}{self.run_id}"

    @property
    def final(self) -> Path:
        if self.trial:
            return self.dataset_dir / TRIALS / self.run_id
        return self.dataset_dir / self.run_id


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique run id: UTC time to the second plus 6 random hex digits."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def open_run_folder(dataset_dir: Path, /, *, run_id: str, trial: bool = False) -> RunFolder:
    """Create the run's temporary folder, after removing ones left by dead runs.

    A trial's temporary folder is beside the others, not under `trials/`: while it runs,
    retention sees a run writing and keeps the run it compares with.
    """
    folder = RunFolder(dataset_dir=dataset_dir, run_id=run_id, trial=trial)
    dataset_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned_folders(dataset_dir)
    folder.temp.mkdir()
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "run_id": run_id}
    (folder.temp / OWNER_FILE).write_text(json.dumps(owner))
    return folder


def publish_run_folder(folder: RunFolder, /) -> Path:
    """Move a complete run into place and point `latest` at it (a trial's `latest` is left
    alone); returns the final path.

    Safe to retry: a run already renamed into place only has `latest` moved.
    """
    if folder.temp.exists():
        _fsync_tree(folder.temp)
        (folder.temp / OWNER_FILE).unlink(missing_ok=True)
        folder.final.parent.mkdir(exist_ok=True)
        folder.temp.rename(folder.final)
    if folder.trial:
        return folder.final
    faults.inject("latest")
    point_latest(folder.dataset_dir, folder.run_id)
    return folder.final


def point_latest(dataset_dir: Path, run_id: str, /) -> None:
    """Atomically replace `<dataset_dir>/latest` with a relative link to `run_id`."""
    staging = dataset_dir / f".{LATEST}-{run_id}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(run_id, target_is_directory=True)
    os.replace(staging, dataset_dir / LATEST)


def discard_run_folder(folder: RunFolder, /) -> None:
    """Remove a failed run's temporary folder (and the dataset folder if nothing else is there)."""
    shutil.rmtree(folder.temp, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.dataset_dir.rmdir()  # only succeeds when empty: earlier runs stay untouched


def remove_abandoned_folders(dataset_dir: Path, /) -> list[Path]:
    """Remove `.tmp-` folders whose owning process on this host is no longer alive."""
    removed = []
    for candidate in dataset_dir.glob(f"{TEMP_PREFIX}*"):
        if candidate.is_dir() and not _owner_alive(candidate):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def live_run_folders(dataset_dir: Path, /) -> list[Path]:
    """`.tmp-` folders of runs still writing (on this host, or any on another host)."""
    return sorted(
        candidate
        for candidate in dataset_dir.glob(f"{TEMP_PREFIX}*")
        if candidate.is_dir() and _owner_alive(candidate)
    )


def _owner_alive(folder: Path) -> bool:
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return False  # no owner file: a run that died before writing it, or a published one
    if owner.get("host") != socket.gethostname():
        return True  # another machine's run on a shared disk: not ours to judge
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError):
        return True
    return True


def _fsync_tree(root: Path) -> None:
    # Flush file contents before the rename makes the folder visible, so a power loss
    # cannot publish a run folder with empty files.
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())

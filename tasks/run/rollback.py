"""Point `latest` back at an earlier run, after checking that run's files are intact.

A night that published a bad dataset (upstream data was wrong, a config change went too far)
is undone by moving `latest`, not by deleting: training jobs read `latest`, and the bad run
stays for inspection.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from rebalance.errors import DataError
from tasks.run.folder import LATEST, point_latest
from tasks.run.manifest import MANIFEST_FILE, file_hashes


def published_runs(dataset_dir: Path, /) -> list[str]:
    """Run ids of the complete runs in a dataset folder, oldest first (ids sort by time)."""
    if not dataset_dir.is_dir():
        return []
    return sorted(
        path.name
        for path in dataset_dir.iterdir()
        if not path.name.startswith(".")
        and path.name != LATEST
        and not path.is_symlink()
        and (path / MANIFEST_FILE).is_file()
    )


@dataclass(frozen=True)
class RolledBack:
    """Where `latest` pointed before a rollback (None: nowhere) and the run it points at now."""

    previous: str | None
    current: str
    folder: Path

    def describe(self) -> str:
        """One line for the user: from which run to which."""
        return f"`latest` moved from {self.previous or 'nothing'} to {self.current}"


def roll_back(dataset_dir: Path, /, *, to: str | None = None) -> RolledBack:
    """Move `latest` to run `to`, or to the run published before the current one.

    Raises:
        DataError: no such run, no earlier run, or the run's files no longer match the
            hashes in its manifest.
    """
    runs = published_runs(dataset_dir)
    current = os.path.basename(os.path.realpath(dataset_dir / LATEST))
    previous = current if (dataset_dir / LATEST).is_symlink() else None
    if to is None:
        earlier = [run for run in runs if run < current]
        if not earlier:
            msg = (
                f"{dataset_dir} has no run before {current or 'latest'} to roll back to; "
                f"runs there: {', '.join(runs) or 'none'}"
            )
            raise DataError(msg)
        to = earlier[-1]
    elif to not in runs:
        msg = f"{dataset_dir} has no complete run '{to}'; pick one of: {', '.join(runs) or 'none'}"
        raise DataError(msg)
    target = dataset_dir / to
    manifest = json.loads((target / MANIFEST_FILE).read_text(encoding="utf-8"))
    if file_hashes(target) != manifest.get("files"):
        msg = (
            f"run {target} no longer matches the file hashes in its manifest.json (a file was "
            "edited or deleted); pick another run with --to"
        )
        raise DataError(msg)
    point_latest(dataset_dir, to)
    return RolledBack(previous=previous, current=to, folder=target)

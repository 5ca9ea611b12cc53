"""`rebalance runs`: the published runs of a dataset, newest first, read from their manifests.

Only `manifest.json` files are read (no Prefect, no data files), so listing a dataset with a
year of nightly runs takes a fraction of a second.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tasks.run.folder import LATEST, TRIALS
from tasks.run.manifest import MANIFEST_FILE
from tasks.run.rollback import published_runs

# What a manifest without a drift entry shows: the run was not compared with an earlier one.
NOT_CHECKED = "-"


@dataclass(frozen=True)
class RunSummary:
    """One published run as `rebalance runs` lists it."""

    run_id: str
    latest: bool
    finished_at: str | None
    rows: dict[str, int | None]
    sampler: str
    validation: str
    drift: str

    def as_json(self) -> dict[str, Any]:
        """The summary as plain JSON values."""
        return asdict(self)


def list_runs(dataset_dir: Path, /) -> list[RunSummary]:
    """The published runs of `dataset_dir`, newest first."""
    latest = os.path.basename(os.path.realpath(dataset_dir / LATEST))
    return [
        summarize(run_id, _read(dataset_dir / run_id / MANIFEST_FILE), latest=run_id == latest)
        for run_id in reversed(published_runs(dataset_dir))
    ]


def summarize(run_id: str, manifest: dict[str, Any] | None, /, *, latest: bool) -> RunSummary:
    """A run's summary from its manifest (None: the manifest could not be read)."""
    if manifest is None:
        return RunSummary(
            run_id=run_id,
            latest=latest,
            finished_at=None,
            rows=dict.fromkeys(("train", "train_after", "val", "test")),
            sampler="?",
            validation="manifest.json unreadable",
            drift="?",
        )
    rows = manifest.get("rows") or {}
    return RunSummary(
        run_id=run_id,
        latest=latest,
        finished_at=manifest.get("finished_at") or manifest.get("started_at"),
        rows={name: rows.get(name) for name in ("train", "train_after", "val", "test")},
        sampler=_sampler(manifest.get("rebalance") or {}),
        validation=_validation(manifest.get("validation") or {}, dropped=rows.get("dropped")),
        drift=_drift(manifest.get("drift")),
    )


def trial_runs(dataset_dir: Path, /) -> list[str]:
    """Run ids of the complete trial runs (`--no-publish`) under `<dataset_dir>/trials/`."""
    return published_runs(dataset_dir / TRIALS)


def render_runs(summaries: list[RunSummary], /, *, dataset_dir: Path, trials: int = 0) -> str:
    """A plain-text table of `summaries`; `*` marks the run `latest` points at. `trials`
    trial runs are not listed, only counted on the last line."""
    aside = f"; {trials} trial runs, not published, in {dataset_dir / TRIALS}" if trials else ""
    if not summaries:
        return f"no published runs in {dataset_dir}{aside}"
    header = ("", "run", "finished (UTC)", "train → published", "val", "test")
    header += ("sampler", "validation", "drift")
    lines = [header]
    for run in summaries:
        lines.append(
            (
                "*" if run.latest else "",
                run.run_id,
                _time(run.finished_at),
                f"{_count(run.rows['train'])} → {_count(run.rows['train_after'])}",
                _count(run.rows["val"]),
                _count(run.rows["test"]),
                run.sampler,
                run.validation,
                run.drift,
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    return "\n".join([*table, f"{len(summaries)} runs in {dataset_dir}; * is `latest`{aside}"])


def _read(path: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _sampler(rebalance: dict[str, Any]) -> str:
    ran = str(rebalance.get("sampler") or rebalance.get("method") or "none")
    # `sampler: auto` picks by the cross-validated evaluation: show what it picked.
    return f"auto → {ran}" if rebalance.get("requested") == "auto" else ran


def _validation(validation: dict[str, Any], *, dropped: int | None) -> str:
    # A published run passed every check that stops a run; a `status` (warnings found) is
    # shown as the manifest words it.
    status = str(validation.get("status") or "passed")
    return f"{status}, {dropped} dropped" if dropped else status


def _drift(drift: Any) -> str:
    if not drift:
        return NOT_CHECKED
    if isinstance(drift, dict):
        return str(drift.get("status") or "checked")
    return str(drift)


def _time(stamp: str | None) -> str:
    # "2026-12-05T08:23:32+00:00" → "2026-12-05 08:23:32": every stamp is UTC.
    return stamp.replace("T", " ").removesuffix("+00:00") if stamp else "?"


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)

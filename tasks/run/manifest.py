"""manifest.json: what a run read, did and wrote, for training jobs and for people."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rebalance.config import CommonConfig
from rebalance.errors import DataError
from tasks.core.classes import counts_by_name, label_counts
from tasks.core.contract import NOT_EVALUATED, Checked, Evaluated, Ingested, Resampled
from tasks.core.files import file_sha256
from tasks.core.frames import count_synthetic, row_count
from tasks.run.class_weights import class_weights
from tasks.run.drift import Drift, render_drift
from tasks.run.hashsplit import pins_for_manifest
from tasks.run.split import SplitResult
from validations.data_docs import INDEX, data_docs_link, run_page

MANIFEST_FILE = "manifest.json"
# What a rerun compares to reuse a run (tasks/run/rerun.py); None: the run is never reused.
FINGERPRINT = "input_fingerprint"
VERSIONED_PACKAGES = (
    "rebalance",
    "prefect",
    "polars",
    "imbalanced-learn",
    "scikit-learn",
    "numpy",
    "great-expectations",
    "pyarrow",
)


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries whose behaviour shapes the outputs."""
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def file_hashes(run_dir: Path, /) -> dict[str, str]:
    """sha256 of every file under the run folder, by relative POSIX path, sorted."""
    return {
        path.relative_to(run_dir).as_posix(): file_sha256(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE and not path.name.startswith(".")
    }


def read_manifest(path: Path | str, /) -> dict[str, Any]:
    """A run's `manifest.json`, or a DataError naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path} not found; pass the folder of a published rebalance run"
        raise DataError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"{path} is not valid JSON ({exc.msg}); rerun the rebalance flow"
        raise DataError(msg) from None


def write_manifest(manifest: Mapping[str, Any], run_dir: Path, /) -> Path:
    """Write manifest.json with the hashes of every other file in the run folder."""
    # Report sections are markdown for report.md, not facts for the training job.
    facts = {key: value for key, value in manifest.items() if key != "report_sections"}
    complete = {**facts, "files": file_hashes(run_dir)}
    path = run_dir / MANIFEST_FILE
    path.write_text(json.dumps(complete, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def utc_now() -> str:
    """ISO 8601 UTC timestamp to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def build_manifest(
    *,
    config: CommonConfig,
    run_id: str,
    started_at: str,
    ingested: Ingested,
    checked: Checked[Any],
    splits: SplitResult,
    resampled: Resampled[Any],
    timings: dict[str, float],
    flow_run_id: str | None,
    fingerprint: str | None = None,
    evaluated: Evaluated = NOT_EVALUATED,
    drift: Drift | None = None,
    published: bool = True,
) -> dict[str, Any]:
    """Everything a training job or a person needs to trust the run (files are added on write).

    `published` False: a trial run, kept in `trials/<run_id>/`, one folder further down.
    """
    frames = splits.frames()
    rows = {name: row_count(frame) for name, frame in frames.items()}
    synthetic = count_synthetic(resampled.frame)
    rows_after = row_count(resampled.frame)
    label = ingested.columns.label
    before = {name: label_counts(frame, label) for name, frame in frames.items()}
    rebalanced = label_counts(resampled.frame, label)
    # A trial's run folder is one level deeper: its links to the Data Docs site climb one more.
    up = "" if published else "../"
    return {
        "report_sections": [
            *checked.report_sections,
            *([render_drift(drift)] if drift is not None else []),
            *evaluated.report_sections,
            *resampled.report_sections,
        ],
        "run_id": run_id,
        "published": published,
        "name": config.name,
        "modality": config.modality,
        "started_at": started_at,
        "finished_at": utc_now(),
        "config": config.model_dump(mode="json"),
        "source": {"path": str(config.source), "sha256": ingested.source_sha256},
        "rows": {
            "read": ingested.rows_read,
            "dropped": checked.rows_dropped,
            **rows,
            "train_after": rows_after,
            "synthetic": synthetic,
            "removed_by_sampler": rows["train"] - (rows_after - synthetic),
        },
        "columns": {
            "label": label,
            "id_column": ingested.columns.id_column,
            "group_column": ingested.columns.group_column,
            "features": list(ingested.columns.features),
            "categorical": resampled.categorical,
        },
        "validation": {
            "null_counts": checked.null_counts,
            "null_policy": config.validation.null_policy,
            "max_drop_fraction": config.validation.max_drop_fraction,
            "rows_dropped_for_nulls": checked.rows_dropped_for_nulls,
            "result": "validation/result.json",
            # The dataset's Data Docs site, beside the run folders (relative to this one).
            "data_docs": f"{up}{data_docs_link(INDEX)}",
            "data_docs_page": f"{up}{data_docs_link(run_page(run_id))}",
            "expectations": list(checked.expectations),
            **checked.findings.as_manifest(),
        },
        "drift": drift.as_manifest() if drift is not None else None,
        "split": {
            "method": config.split.method,
            "fractions": config.split.fractions,
            "seed": config.split.seed,
            "rows_kept_together": splits.grouped_rows,
            "groups_kept_together": splits.groups,
            # split.method hash: keys moved off their hash's split, kept by later runs.
            "pinned": pins_for_manifest(splits.pinned),
        },
        "counts": {
            "before": {name: counts_by_name(counts) for name, counts in before.items()},
            "after": {"train": counts_by_name(rebalanced)},
        },
        "rebalance": {
            "requested": resampled.requested,
            "sampler": resampled.sampler,
            "params": resampled.params,
            "random_state": config.random_state,
            **resampled.facts.as_manifest(),
            # Synthetic samples identical to an original of another class: replaced, dropped.
            "conflicts": resampled.conflicts.as_manifest() if resampled.conflicts else None,
        },
        "evaluation": evaluated.entry,
        "class_weights": class_weights(
            before["train"], rebalanced, beta=config.class_weights.beta, label=label
        ),
        "notes": [*evaluated.notes, *resampled.notes],
        "versions": library_versions(),
        "timings_seconds": {name: round(value, 3) for name, value in timings.items()},
        "prefect": {"flow_run_id": flow_run_id},
        FINGERPRINT: fingerprint,
    }

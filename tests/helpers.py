"""Tiny data builders shared by tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import yaml


def loans_frame(rows: int = 300, *, seed: int = 0, minority: float = 0.12) -> pl.DataFrame:
    """A mixed numeric/categorical table with a ~12% minority and real-world label spaces."""
    rng = np.random.default_rng(seed)
    approved = rng.random(rows) < minority
    return pl.DataFrame(
        {
            "loan_id": [f"L{index:05d}" for index in range(rows)],
            "income": np.round(rng.lognormal(8, 0.5, rows) + approved * 900, 2),
            "amount": rng.integers(20, 600, rows),
            "term": rng.choice([180, 360], rows).astype(np.int32),
            "education": rng.choice(["Graduate", "Not Graduate"], rows),
            "area": rng.choice(["Urban", "Rural", "Semiurban"], rows),
            "status": np.where(approved, " Approved", "Rejected "),
        }
    )


def numeric_frame(rows: int = 400, *, seed: int = 0) -> pl.DataFrame:
    """Three classes (70/20/10%), numeric features only."""
    rng = np.random.default_rng(seed)
    label = rng.choice([0, 1, 2], rows, p=[0.7, 0.2, 0.1])
    return pl.DataFrame(
        {
            "a": rng.normal(size=rows) + label,
            "b": rng.normal(size=rows) - label,
            "c": rng.integers(0, 100, rows),
            "y": label,
        }
    )


def write_config(folder: Path, source: Path | str, **overrides) -> Path:
    """A config YAML in `folder` for `source`, outputs under `folder/out`."""
    config = {
        "name": "t",
        "source": str(source),
        "label": "status",
        "id_column": "loan_id",
        "output": str(folder / "out"),
        "retries": 0,
        # The cross-validated evaluation has tests of its own (tests/tabular/test_arms.py and
        # one flow run); elsewhere it only slows the run down.
        "evaluate": {"enabled": False},
    }
    config.update(overrides)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def split_without_prefect(modality, config, run_dir: Path, *, pinned=None):
    """ingest → validate → split → holdouts, as the flow's tasks call them, without Prefect
    (`pinned`: the pins of a previous hash split, as the split step reads them from latest).

    Returns (ingested, checked, splits); val and test are written into `run_dir`.
    """
    from tasks.run.split import split_frame

    ingested = modality.ingest(config)
    checked = modality.validate(ingested, config, run_dir / "validation")
    columns = ingested.columns
    by_hash = config.split.method == "hash"
    splits = split_frame(
        checked.frame,
        label=columns.label,
        fractions=config.split.fractions,
        seed=config.split.seed,
        group_keys=None if by_hash else modality.split_keys(checked.frame, columns, config),
        hash_keys=modality.hash_keys(checked.frame, columns, config) if by_hash else None,
        pinned=pinned,
    )
    for name in ("val", "test"):
        modality.write_holdout(splits.frames()[name], name, columns, config, run_dir)
    return ingested, checked, splits


@dataclass(frozen=True)
class Entry:
    """A declared expectation, as the config gives it (`ExpectationEntry`)."""

    expectation: str
    kwargs: dict
    severity: str = "fail"


def table_validations(columns):
    """A parametrize mark over the two ways a table is validated, in memory and streamed
    (two batches of 50 rows), each called as `validate(frame, tmp_path, **options)` with
    `null_policy="drop"`: what one finds the other must find."""
    import pytest

    from validations.tabular import validate_table, validate_table_batches

    def in_memory(frame, tmp_path, **options):
        return validate_table(
            frame,
            columns=columns,
            null_policy="drop",
            dataset="t",
            output_dir=tmp_path / "memory",
            **options,
        )

    def streamed(frame, tmp_path, **options):
        return validate_table_batches(
            frame.lazy(),
            columns=columns,
            null_policy="drop",
            dataset="t",
            output_dir=tmp_path / "streamed",
            # Two batches: a check per batch would judge each half on its own.
            batch_rows=50,
            source=tmp_path / "t.csv",
            scratch=tmp_path / "scratch.parquet",
            **options,
        )

    return pytest.mark.parametrize("validate", [in_memory, streamed], ids=["memory", "streamed"])


def prefect_console_to_this_stderr() -> None:
    """Point Prefect's console handlers at the current `sys.stderr`.

    Prefect binds them to the stream of the moment it configured logging; in a test session
    that may be an earlier test's capture, closed since ("--- Logging error ---" and a
    traceback on every line). Call it where `capsys` is active, before the CLI runs in-process.
    """
    import logging
    import sys

    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            # Not setStream: it flushes the old stream, which may be closed.
            handler.stream = sys.stderr
            handler.console.file = sys.stderr

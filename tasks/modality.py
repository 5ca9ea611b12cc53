"""What a modality (tabular, image, text) provides to the one flow.

Every modality turns its source into a polars frame with one row per sample (a table's rows,
an image index, texts), so validation's null check, the split, the class weights and the
report are shared. A modality is one module exposing an object with the methods of
`Modality`; `modality_for` looks it up by the config's `modality`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from tasks.ingest import Columns

SYNTHETIC = "is_synthetic"


@dataclass(frozen=True)
class Ingested:
    """The samples as read, reduced to the run's columns."""

    frame: pl.DataFrame
    columns: Columns
    source_sha256: str
    rows_read: int

    def without_frame(self) -> Ingested:
        """The same facts with an empty frame: frees the rows once the split holds them."""
        return dataclasses.replace(self, frame=self.frame.clear())


@dataclass(frozen=True)
class CheckedTable:
    """The samples that passed validation, and what validation found."""

    frame: pl.DataFrame
    rows_dropped: int
    null_counts: dict[str, int]
    class_counts: dict[object, int]
    # Modality-specific findings for the manifest (bad files, duplicate texts...).
    extra: dict[str, Any] = field(default_factory=dict)
    # Markdown sections for the report (image checks, ...).
    report_sections: list[str] = field(default_factory=list)

    def without_frame(self) -> CheckedTable:
        """The same findings with an empty frame: frees the rows once the split holds them."""
        return dataclasses.replace(self, frame=self.frame.clear())


@dataclass(frozen=True)
class Resampled:
    """A rebalanced training frame (with `is_synthetic`) and how it was made."""

    frame: pl.DataFrame
    requested: str
    sampler: str | None
    params: dict[str, Any]
    categorical: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # An offline fallback stood in for the requested method: the next run must not reuse it.
    fell_back: bool = False
    # Modality-specific facts for the manifest, and markdown sections for the report.
    extra: dict[str, Any] = field(default_factory=dict)
    report_sections: list[str] = field(default_factory=list)


class Modality(Protocol):
    """The steps that differ between modalities; each runs inside a Prefect task."""

    def check_config(self, config: Any, /) -> str | None:
        """Fail fast on config problems before reading data; returns the method's name."""

    def ingest(self, config: Any, /) -> Ingested:
        """Read the source into one row per sample."""

    def validate(self, ingested: Ingested, config: Any, output_dir: Path, /) -> CheckedTable:
        """Null check (Great Expectations, into `output_dir`) plus the modality's checks."""

    def group_keys(self, frame: pl.DataFrame, columns: Columns, config: Any, /) -> pl.Series | None:
        """Keys of samples that must share a split (groups, duplicates), or None."""

    def write_holdout(
        self, frame: pl.DataFrame, split: str, columns: Columns, config: Any, run_dir: Path, /
    ) -> None:
        """Write val or test exactly as split (`<split>.parquet`, plus files if any)."""

    def rebalance(
        self, train: pl.DataFrame, columns: Columns, config: Any, run_dir: Path, /
    ) -> Resampled:
        """Rebalance the training split and write it (`train.parquet`, plus files if any)."""


def modality_for(name: str, /) -> Modality:
    """The modality implementation for a config's `modality` value."""
    if name == "tabular":
        from tasks.tabular_modality import TABULAR

        return TABULAR
    if name == "image":
        from tasks.image_modality import IMAGE

        return IMAGE
    if name == "text":
        from tasks.text_modality import TEXT

        return TEXT
    msg = f"unknown modality '{name}'"
    raise ValueError(msg)


def write_parquet(frame: pl.DataFrame, path: Path, /) -> None:
    """Parquet with fixed settings, so equal frames give equal bytes."""
    frame.write_parquet(path, compression="zstd", statistics=True)


def row_count(frame: pl.DataFrame | pl.LazyFrame, /) -> int:
    """Rows of a frame; a LazyFrame (a streamed table) is counted by a streaming query."""
    if isinstance(frame, pl.DataFrame):
        return frame.height
    return int(frame.select(pl.len()).collect(engine="streaming").item())


def count_synthetic(frame: pl.DataFrame | pl.LazyFrame, /) -> int:
    """Rows marked `is_synthetic` in a rebalanced frame."""
    return int(frame.lazy().select(pl.col(SYNTHETIC).sum()).collect(engine="streaming").item())

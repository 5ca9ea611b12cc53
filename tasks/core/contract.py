"""What a modality (tables, images, text) provides to the one flow, and what its steps return.

Every modality turns its source into a polars frame with one row per sample (a table's rows,
an image index, texts), so the null check, the split, the class weights, the manifest and the
report are shared. A modality is one package under `tasks/` whose `modality` module exposes
`MODALITY`, an instance of a class that subclasses `Modality`; `tasks.registry` finds it by the
config's `modality`. Optional steps have a shared default here, so an adapter implements only
what differs.

A modality's own findings (bad files, duplicate texts...) and facts (the augmentation pipeline,
the translation models...) are typed per modality and reach the manifest through
`as_manifest()`, and the report through pre-rendered markdown sections.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import polars as pl

from tasks.core.columns import Columns
from tasks.core.conflicts import Conflicts, table_identity
from tasks.core.files import check_source_file, file_sha256
from tasks.core.frames import write_parquet

if TYPE_CHECKING:
    from rebalance.config import CommonConfig


class Facts(Protocol):
    """A modality's typed findings or facts; `as_manifest` gives their manifest.json entries."""

    def as_manifest(self) -> dict[str, Any]:
        """The entries, in the order manifest.json lists them."""
        ...


@dataclass(frozen=True)
class NoFacts:
    """For a step that has nothing of its own to add to the manifest."""

    def as_manifest(self) -> dict[str, Any]:
        return {}


NO_FACTS = NoFacts()
FactsT = TypeVar("FactsT", bound=Facts, covariant=True)
ConfigT = TypeVar("ConfigT", bound="CommonConfig", contravariant=True)


@dataclass(frozen=True)
class Ingested:
    """The samples as read, reduced to the run's columns."""

    frame: pl.DataFrame | pl.LazyFrame
    columns: Columns
    source_sha256: str
    rows_read: int

    def without_frame(self) -> Ingested:
        """The same facts with an empty frame: frees the rows once the split holds them."""
        return dataclasses.replace(self, frame=self.frame.clear())


@dataclass(frozen=True)
class Checked(Generic[FactsT]):
    """The samples that passed validation, and what validation found."""

    frame: pl.DataFrame | pl.LazyFrame
    rows_dropped: int
    null_counts: dict[str, int]
    class_counts: dict[object, int]
    # Of `rows_dropped`, those a `drop` null policy removed (the rest: a modality's own
    # policies, such as bad texts).
    rows_dropped_for_nulls: int = 0
    findings: FactsT = NO_FACTS  # type: ignore[assignment]
    # Markdown sections for the report (the image checks, ...).
    report_sections: tuple[str, ...] = ()
    # The config's Great Expectations expectations, each with its status and what GX
    # observed, as manifest.json lists them (`validations.expectations.Outcome`).
    expectations: tuple[dict[str, Any], ...] = ()
    # What the user should hear about in the log (warnings): files a scan skipped, ...
    notes: tuple[str, ...] = ()

    def without_frame(self) -> Checked[FactsT]:
        """The same findings with an empty frame: frees the rows once the split holds them."""
        return dataclasses.replace(self, frame=self.frame.clear())


@dataclass(frozen=True)
class Resampled(Generic[FactsT]):
    """A rebalanced training frame (with `is_synthetic`) and how it was made."""

    frame: pl.DataFrame | pl.LazyFrame
    requested: str
    sampler: str | None
    params: dict[str, Any]
    categorical: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # An offline fallback stood in for the requested method: the next run must not reuse it.
    fell_back: bool = False
    facts: FactsT = NO_FACTS  # type: ignore[assignment]
    # Markdown sections for the report (the augmentation, the paraphrases, ...).
    report_sections: tuple[str, ...] = ()
    # Synthetic samples found identical to an original of another class, and what became of
    # them (None: the modality did not look).
    conflicts: Conflicts | None = None


@dataclass(frozen=True)
class Evaluated:
    """What the evaluation step estimated on the training split, before the rebalancing.

    `entry` is its manifest.json entry (None: the modality evaluates nothing), `picked` the
    rebalancing method it chose when the config leaves the choice to it.
    """

    entry: dict[str, Any] | None = None
    picked: str | None = None
    notes: list[str] = field(default_factory=list)
    # Markdown sections for the report; images they show are files of the run folder.
    report_sections: tuple[str, ...] = ()


NOT_EVALUATED = Evaluated()


class Modality(Protocol[ConfigT]):
    """The steps that differ between modalities; each runs inside one of the flow's tasks.

    Subclass it: the methods with a body are shared defaults an adapter may override.
    """

    def preload(self) -> None:
        """Import the libraries the steps will need (the CLI does it while Prefect starts)."""
        return None

    def check_config(self, config: ConfigT, /) -> str | None:
        """What the config model cannot check alone (files it names, a pipeline tried on test
        images), before any data is read; returns the rebalancing method's name, or None."""
        ...

    def check_source(self, config: ConfigT, /) -> None:
        """Refuse a source this modality cannot read (missing, a folder where a file is
        needed, unreadable) in one sentence, before Prefect starts; by default one file."""
        check_source_file(config.source)

    def written_folders(self, config: ConfigT, /) -> dict[str, Path]:
        """Folders besides `<output>/<name>/` a run writes (a cache), by the config key that
        sets each; the pre-flight probes them too. None by default."""
        return {}

    def fingerprint_inputs(self, config: ConfigT, /) -> dict[str, Any] | None:
        """What decides the outputs besides the config and the code (the source's content,
        files the config points at), for the rerun check; None when it cannot be read."""
        if not config.source.exists():
            return None
        return {"source": file_sha256(config.source)}

    def ingest(self, config: ConfigT, /) -> Ingested:
        """Read the source into one row per sample."""
        ...

    def validate(self, ingested: Ingested, config: ConfigT, output_dir: Path, /) -> Checked[Facts]:
        """Null check (Great Expectations, into `output_dir`) plus the modality's checks."""
        ...

    def split_keys(
        self, frame: pl.DataFrame, columns: Columns, config: ConfigT, /
    ) -> pl.Series | None:
        """Keys of samples that must share a split, or None: by default the group column,
        else identical features when `split.keep_duplicates_together` is on."""
        if columns.group_column is not None:
            return frame[columns.group_column]
        if config.split.keep_duplicates_together and columns.features:
            return frame.select(columns.features).hash_rows(seed=0)
        return None

    def hash_keys(self, frame: pl.DataFrame, columns: Columns, config: ConfigT, /) -> pl.DataFrame:
        """The values `split.method: hash` places each sample by (`tasks.run.keyhash` hashes
        them the same way in every version): by default the group column; else, when
        `split.keep_duplicates_together` is on, the feature values, so duplicates share a
        split; else the id column; else the feature values."""
        if columns.group_column is not None:
            return frame.select(columns.group_column)
        if columns.id_column is not None and not config.split.keep_duplicates_together:
            return frame.select(columns.id_column)
        return frame.select(columns.features)

    def sample_identity(self, frame: pl.DataFrame, columns: Columns, /) -> pl.Series:
        """Each sample's identity, from its features only: two samples with equal identities
        are the same sample, so a synthetic one must not carry another class than an original.
        By default a hash of the feature columns' values as written (`table_identity`)."""
        return table_identity(frame, columns.features)

    def write_holdout(
        self, frame: pl.DataFrame, split: str, columns: Columns, config: ConfigT, run_dir: Path, /
    ) -> None:
        """Write val or test exactly as split: `<split>.parquet` (plus files, if any)."""
        write_parquet(frame.select(columns.kept), run_dir / f"{split}.parquet")

    def evaluate(
        self,
        train: pl.DataFrame | pl.LazyFrame,
        columns: Columns,
        config: ConfigT,
        run_dir: Path,
        /,
    ) -> Evaluated:
        """Estimate on the training split alone what the rebalancing buys a model (files such
        as charts go into `run_dir`); by default nothing is evaluated."""
        return NOT_EVALUATED

    def rebalance(
        self,
        train: pl.DataFrame | pl.LazyFrame,
        columns: Columns,
        config: ConfigT,
        run_dir: Path,
        /,
        *,
        evaluated: Evaluated = NOT_EVALUATED,
    ) -> Resampled[Facts]:
        """Rebalance the training split and write it (`train.parquet`, plus files if any);
        `evaluated` is the evaluation step's result (its `picked` method, if any)."""
        ...

    def output_columns(self) -> Mapping[str, str | None]:
        """train.parquet columns that hold another split column (its name) or that the
        modality rewrites (None), for the check that originals are split rows."""
        return {}

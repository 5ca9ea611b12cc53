"""The sections every modality's config shares: validation, split, class weights, runner, and
the fields of the run itself (name, source, label, output, retries)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from rebalance.config.expectations import ExpectationEntry, read_suite
from rebalance.errors import ConfigError, DataError
from tasks.core.columns import SPLITS
from tasks.core.tables import missing_column, source_columns

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Section(BaseModel):
    """A config section: frozen, and an unknown key is an error that names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _target_form(target: Any) -> Any:
    # One message for the three accepted forms, instead of one per member of the union.
    counts = target.values() if isinstance(target, dict) else [target]
    if target == "majority" or all(
        isinstance(value, int) and not isinstance(value, bool) and value >= 1 for value in counts
    ):
        return (
            {str(name): value for name, value in target.items()}
            if isinstance(target, dict)
            else target
        )
    msg = (
        f"must be 'majority', a count of at least 1, or a mapping of class to count, got {target!r}"
    )
    raise ValueError(msg)


# Samples per class after rebalancing: every class up to the largest, one count for every
# class, or a count per class name (see `tasks.core.targets`).
ClassTarget = Annotated[Literal["majority"] | int | dict[str, int], BeforeValidator(_target_form)]


class ValidationConfig(Section):
    """What to do with bad rows found before splitting."""

    null_policy: Literal["fail", "drop"] = Field(
        "fail",
        description="`fail` stops the run and names each column with nulls; `drop` removes rows "
        "with a null (or NaN) in a used column and counts them in the report.",
    )
    max_drop_fraction: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Under `null_policy: drop`, the largest share of the rows read that may "
        "be dropped: a run that would drop more stops before the split, naming the columns "
        "whose nulls cause it (exactly this share passes). Fill those nulls or leave the "
        "columns out, or raise it (up to 1, no limit) when losing those rows is intended.",
    )
    expectations: list[ExpectationEntry] = Field(
        default_factory=list,
        description="Great Expectations expectations the data as read must meet, run in the "
        "same checkpoint as the null check: each `{expectation: ExpectColumnValuesToBeBetween, "
        "kwargs: {column: age, min_value: 0}, severity: fail}` (GX's class name or its "
        "snake_case name, GX's kwargs). In a streamed run each batch is validated; counts of "
        "unexpected rows add up over the batches, other expectations judge each batch.",
    )
    expectation_suite: Path | None = Field(
        None,
        description="A Great Expectations suite JSON file (as `suite.to_json_dict()` writes "
        "it) whose expectations run beside `expectations`; each is `fail` unless its "
        "`meta.severity` is `warn`. Relative to the config file's folder.",
    )
    data_docs_keep: int = Field(
        30,
        ge=1,
        description="Runs the dataset's Data Docs site (`<output>/<name>/data_docs/`) keeps: "
        "each run adds its validation, and the pages of older ones are deleted.",
    )

    @field_validator("expectation_suite")
    @classmethod
    def _suite_readable(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_suite(path)
        return path

    def declared_expectations(self) -> list[ExpectationEntry]:
        """`expectations`, then the suite file's (read again: it may have changed since).

        Raises:
            ConfigError: the suite file no longer reads as a valid suite.
        """
        if self.expectation_suite is None:
            return list(self.expectations)
        try:
            suite = read_suite(self.expectation_suite)
        except ValueError as exc:
            raise ConfigError(f"validation.expectation_suite: {exc}") from None
        return [*self.expectations, *suite]


class SplitConfig(Section):
    """The train/val/test split: stratified by label, or by each sample's key hash."""

    method: Literal["stratified", "hash"] = Field(
        "stratified",
        description="`stratified`: every class split by `fractions` as exactly as its rows "
        "allow, but one new row can move others between splits. `hash`: a sample's split "
        "follows from its key and `seed` (the group, else the content with "
        "`keep_duplicates_together`, else the id column), so rows keep their split as the "
        "data grows; class shares are within 4·sqrt(f(1-f)/n) of each fraction f for a class "
        "of n keys. A class with no key in a split gets its nearest key moved there and "
        "recorded as a pin in the manifest, which later runs keep (docs/operations.md).",
    )

    fractions: dict[Literal["train", "val", "test"], float] = Field(
        default_factory=lambda: {"train": 0.7, "val": 0.15, "test": 0.15},
        description="Share of rows per split; all three splits, each above 0, summing to 1.",
    )
    seed: int = Field(
        42,
        ge=0,
        description="Seed of the split; also of the rebalancing unless `rebalance.random_state` "
        "is set.",
    )
    group_column: str | None = Field(
        None, description="Rows sharing a value of this column land in one split."
    )
    keep_duplicates_together: bool = Field(
        True,
        description="Rows with identical feature values land in one split, so no sample leaks "
        "from train into val/test under another id.",
    )

    @field_validator("fractions")
    @classmethod
    def _fractions_cover_splits(cls, fractions: dict[str, float]) -> dict[str, float]:
        missing = [name for name in SPLITS if name not in fractions]
        if missing:
            msg = f"split.fractions needs train, val and test; missing {', '.join(missing)}"
            raise ValueError(msg)
        if any(not 0 < value < 1 for value in fractions.values()):
            msg = f"split.fractions must each be between 0 and 1, got {dict(fractions)}"
            raise ValueError(msg)
        total = sum(fractions.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            msg = f"split.fractions must sum to 1, got {total:g} from {dict(fractions)}"
            raise ValueError(msg)
        return {name: fractions[name] for name in SPLITS}


class RebalanceSection(Section):
    """What every modality's `rebalance` section has."""

    random_state: int | None = Field(
        None,
        ge=0,
        le=2**32 - 1,
        description="Seed of the sampling, augmentation or paraphrasing; `split.seed` when "
        "empty. Change it to draw other synthetic samples without moving rows between splits.",
    )


class ClassWeightsConfig(Section):
    """Class weights of the training split before rebalancing and as published."""

    beta: float = Field(
        0.999, ge=0, lt=1, description="Beta of the effective-number weights (Cui et al. 2019)."
    )


class RunnerConfig(Section):
    """Where the parallel work of a run (image augmentation, translation shards) runs."""

    kind: Literal["threads", "dask"] = Field(
        "threads",
        description="`threads`: a thread pool in the flow's process (the GIL limits it to about "
        "one core for image shards; translation stays in the flow's process). `dask`: Dask "
        "worker processes through prefect-dask, a local cluster of `workers` processes, or the "
        "cluster at `address`.",
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="Threads, or local Dask worker processes (one thread each); the machine's "
        "CPU count when empty. Not used with `address`.",
    )
    address: str | None = Field(
        None,
        min_length=1,
        description="Scheduler address of a running Dask cluster (`tcp://host:8786`), with "
        "kind `dask`; a temporary local cluster when empty.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RunnerConfig:
        if self.address is not None and self.kind != "dask":
            msg = (
                f"runner.address {self.address!r} needs runner.kind: dask (threads run in the "
                "flow's own process)"
            )
            raise ValueError(msg)
        if self.address is not None and self.workers is not None:
            msg = (
                "runner.workers sizes a local cluster; the cluster at runner.address has its "
                "own workers: remove one of them"
            )
            raise ValueError(msg)
        if self.address is not None and "://" not in self.address:
            msg = (
                f"runner.address {self.address!r} must be a Dask scheduler address like "
                "tcp://host:8786"
            )
            raise ValueError(msg)
        return self


# What a drift finding does: `fail` stops the run before anything is published, `warn` is
# reported (log, report.md, manifest, artifact), `off` skips the check.
DriftSeverity = Literal["fail", "warn", "off"]
_SEVERITY = "`fail` stops the run before anything is published, `warn` reports it, `off` skips it."


class ColumnsDrift(Section):
    """Columns added, removed or retyped since the run `latest` points at."""

    severity: DriftSeverity = Field(
        "fail",
        description="A column added, removed or of another dtype than in `latest`'s input. "
        "`fail` by default: a new column silently becomes a feature, a retyped one changes "
        f"what a trained model reads. {_SEVERITY}",
    )


class RowCountDrift(Section):
    """The relative change in validated rows since `latest`."""

    threshold: float = Field(
        0.5,
        ge=0,
        description="Largest relative change in rows after validation, |now − before| / "
        "before (exactly this passes). 0.5 by default: a nightly table grows or shrinks by a "
        "few percent, while a half-empty or doubled extract is an upstream fault.",
    )
    severity: DriftSeverity = Field("fail", description=_SEVERITY)


class ClassesDrift(Section):
    """Classes that appeared or vanished since `latest`."""

    severity: DriftSeverity = Field(
        "fail",
        description="A class of the label that `latest`'s input had and this one lacks, or "
        "the reverse. `fail` by default: a vanished class leaves a model without examples "
        f"of it, a new one needs a decision on its rebalancing. {_SEVERITY}",
    )


class ClassPriorsDrift(Section):
    """How far the class priors (shares of the label's classes) moved since `latest`."""

    threshold: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Largest total variation distance between the class priors before and "
        "now (half the summed absolute differences of the shares: the share of samples that "
        "changed class; exactly this passes). 0.1 by default: rows appended by the same "
        "process move the priors by far less, while 10 points of prior shift change the "
        "rebalancing and the class weights.",
    )
    severity: DriftSeverity = Field("fail", description=_SEVERITY)


class NullRateDrift(Section):
    """How far each column's share of nulls (as read) moved since `latest`."""

    threshold: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Largest absolute change in a column's share of null (or NaN) values among "
        "the rows read (exactly this passes). 0.05 by default: 5 points more nulls in a "
        "column usually means a broken upstream join or export.",
    )
    severity: DriftSeverity = Field(
        "warn",
        description="`warn` by default: `validation.null_policy` and "
        "`validation.max_drop_fraction` already stop a run whose nulls make its output "
        f"wrong. {_SEVERITY}",
    )


class DistributionDrift(Section):
    """How far each numeric feature's distribution moved since `latest` (PSI)."""

    threshold: float = Field(
        0.25,
        ge=0,
        description="Largest population stability index (PSI) of a numeric feature, over "
        "the quantile bins of `latest`'s input (exactly this passes). 0.25 by default, the "
        "usual line of a major shift (below 0.1: stable). Two samples of one distribution "
        "score about (bins − 1)·(1/rows before + 1/rows now), 0.09 for 200 rows each and 10 "
        "bins: raise it for small tables.",
    )
    severity: DriftSeverity = Field(
        "warn",
        description="`warn` by default: features drift for good reasons (seasons, prices), "
        f"and a shift in them does not make the split or the rebalancing wrong. {_SEVERITY}",
    )
    bins: int = Field(
        10,
        ge=2,
        le=100,
        description="Quantile bins (deciles by default) this run's profile records for "
        "each numeric feature; the next run is compared over these bins.",
    )


class DriftConfig(Section):
    """The drift guard: this run's input against the input of the run `latest` points at."""

    columns: ColumnsDrift = Field(default_factory=ColumnsDrift)
    row_count: RowCountDrift = Field(default_factory=RowCountDrift)
    classes: ClassesDrift = Field(default_factory=ClassesDrift)
    class_priors: ClassPriorsDrift = Field(default_factory=ClassPriorsDrift)
    null_rate: NullRateDrift = Field(default_factory=NullRateDrift)
    distribution: DistributionDrift = Field(default_factory=DistributionDrift)


class RetentionConfig(Section):
    """How many published runs of the dataset stay on disk."""

    keep: int | None = Field(
        None,
        ge=1,
        description="Published runs kept besides the one `latest` points at: after each "
        "successful publish, older run folders are deleted, never `latest`'s, never the run "
        "`rebalance rollback` goes back to (the newest before `latest`), and not while another "
        "run of the dataset is writing. Empty: every run is kept.",
    )


class CommonConfig(Section):
    """What every modality's run has: a name, a source, a label, the split and the output."""

    name: str = Field(
        ...,
        pattern=NAME_PATTERN.pattern,
        max_length=100,
        description="Dataset name: runs go to `<output>/<name>/`, and it keys the Prefect "
        "artifacts (`<name>-balance`, ...). Letters, digits, `.`, `_` and `-`, starting with a "
        "letter or digit, so `../x` or `a/b` cannot write outside `output`.",
    )
    modality: str = Field("tabular", description="Kind of data in `source`.")
    source: Path = Field(..., description="The data: a file, or a folder for images.")
    label: str = Field(
        ..., description="Label column; surrounding spaces in string labels are stripped."
    )
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    class_weights: ClassWeightsConfig = Field(default_factory=ClassWeightsConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    rebalance: RebalanceSection = Field(default_factory=RebalanceSection)
    retries: int = Field(
        2,
        ge=0,
        description="Retries of each step after a transient failure (an unexpected error: a "
        "flaky share, a disk hiccup); errors in the config or the data fail at once, never "
        "retried.",
    )
    retry_delay_seconds: float = Field(
        2.0,
        ge=0,
        description="Seconds before the first retry; the delay doubles with each further "
        "retry (exponential backoff).",
    )
    output: Path = Field(
        Path("outputs"),
        description="Root folder of all run folders: a run writes `<output>/<name>/<run_id>/` "
        "and points `<output>/<name>/latest` at it. Relative to the config file's folder.",
    )
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    @field_validator("name", mode="before")
    @classmethod
    def _name_is_one_folder(cls, name: Any) -> Any:
        # One message with the fix, instead of pydantic's bare pattern: the name is a folder
        # under `output`, so `../x`, `a/b` or `.hidden` would write elsewhere or hide it.
        if isinstance(name, str) and not NAME_PATTERN.fullmatch(name):
            msg = (
                f"{name!r} cannot be the dataset's folder name <output>/<name>: use letters, "
                "digits, '.', '_' and '-' only, starting with a letter or digit (so no '/' "
                "and no leading '.')"
            )
            raise ValueError(msg)
        return name

    @property
    def dataset_dir(self) -> Path:
        """`<output>/<name>`: holds one folder per run and the `latest` link."""
        return self.output / self.name

    @property
    def random_state(self) -> int:
        """The seed of the rebalancing: `rebalance.random_state`, else `split.seed`."""
        seed = self.rebalance.random_state
        return self.split.seed if seed is None else seed


def check_named_columns(
    source: Path, named: dict[str, str | list[str] | None], *, separator: str | None = None
) -> None:
    """Refuse, when the source's columns can be read without its rows, a column the config
    names (by its key in `named`) that the source does not have.

    Raises:
        ValueError: with the sentence ingest would give.
    """
    try:
        names = source_columns(source, separator=separator)
    except DataError as exc:  # a CSV split by another separator: ingest's sentence
        raise ValueError(str(exc)) from None
    if names is None:
        return
    present = set(names)  # a list's `in` is a scan: quadratic for thousands of features
    for role, value in named.items():
        for column in [value] if isinstance(value, str) else value or []:
            if column not in present:
                raise ValueError(str(missing_column(column, role, names, source)))

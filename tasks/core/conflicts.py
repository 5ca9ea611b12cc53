"""Synthetic samples that contradict an original: same identity, another class.

A sampler working on discrete values (SMOTEN, SMOTENC's categories), an augmentation that
leaves an image unchanged, or a paraphrase that lands on another text can write a synthetic
sample identical to an original sample of another class: label noise in the training set.
Each modality says what "identical" means (`Modality.sample_identity`); this module finds
such samples, for the rebalance step (which replaces or drops them) and for `verify` (which
fails a run that would publish one). The originals are every original sample of the run:
the training split's, val's and test's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from tasks.core.frames import batches

IDENTITY = "identity"
LABEL = "label"
HOLDOUT_SPLITS = ("val", "test")
# What "identical" means for a table (the shared default of `Modality.sample_identity`).
TABLE_IDENTITY = (
    "equal values in every feature column as written to the parquet files (synthetic values "
    "after the cast to the training dtypes; -0.0 equals 0.0, NaN equals NaN); id, group and "
    "label columns are not compared"
)
# Rows read at once from val.parquet and test.parquet.
BATCH_ROWS = 500_000


class Identify(Protocol):
    """A modality's identity of each sample of a frame (`Modality.sample_identity`, bound)."""

    def __call__(self, frame: pl.DataFrame, /) -> pl.Series: ...


def table_identity(frame: pl.DataFrame, features: Iterable[str], /) -> pl.Series:
    """A hash of each row's feature values (see `TABLE_IDENTITY`).

    Categorical and enum columns are compared as their strings, so two files whose
    categories are numbered differently still agree.
    """
    values = []
    # `frame.schema` builds the whole schema on each access: once, not once per column.
    schema = frame.schema
    for name in features:
        dtype = schema[name]
        if dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            values.append(pl.col(name).cast(pl.String))
        elif dtype.is_float():
            values.append(pl.col(name) + 0.0)  # -0.0 + 0.0 is 0.0: one hash for equal values
        else:
            values.append(pl.col(name))
    return frame.select(values).hash_rows(seed=0).alias(IDENTITY)


def labelled_identities(keys: pl.Series, labels: pl.Series, /) -> pl.DataFrame:
    """Distinct (identity, label) pairs: what `contradicting` compares with.

    Pairs from several frames combine with `pl.concat([...]).unique()`.
    """
    return pl.DataFrame({IDENTITY: keys, LABEL: labels}).unique(maintain_order=True)


def contradicting(keys: pl.Series, labels: pl.Series, /, *, originals: pl.DataFrame) -> pl.Series:
    """Which samples have the identity of an original of another class.

    Args:
        keys: The samples' identities (`Modality.sample_identity`).
        labels: Their classes, in the same order.
        originals: `labelled_identities` of the original samples (train, val and test).

    Returns:
        A boolean Series, True where the sample contradicts an original. The relation is
        symmetric: with the roles swapped it says which originals a synthetic sample contradicts.
    """
    probe = pl.DataFrame({IDENTITY: keys, LABEL: labels}).with_row_index("row")
    known = originals.select(
        pl.col(IDENTITY).cast(keys.dtype), pl.col(LABEL).cast(labels.dtype).alias("other")
    )
    clashing = probe.join(known, on=IDENTITY, how="inner").filter(pl.col(LABEL) != pl.col("other"))[
        "row"
    ]
    return probe["row"].is_in(clashing.implode()).alias("contradicts")


def split_identities(
    run_dir: Path,
    /,
    *,
    identify: Identify,
    label: str,
    splits: Iterable[str] = HOLDOUT_SPLITS,
    batch_rows: int = BATCH_ROWS,
) -> pl.DataFrame | None:
    """`labelled_identities` of the samples in `<run_dir>/<split>.parquet`, read in batches.

    The split step has written val and test before the rebalance step runs; a split file
    that is not there (a unit test's run folder) adds nothing, and None means none was there.
    """
    parts = []
    for split in splits:
        path = run_dir / f"{split}.parquet"
        if not path.is_file():
            continue
        for batch in batches(pl.scan_parquet(path), rows=batch_rows):
            parts.append(labelled_identities(identify(batch), batch[label]))
    if not parts:
        return None
    return pl.concat(parts).unique(maintain_order=True)


def original_identities(
    train: pl.DataFrame, holdout: pl.DataFrame | None, /, *, identify: Identify, label: str
) -> pl.DataFrame:
    """The originals' `labelled_identities`: the training split's and `holdout`'s (val, test)."""
    own = labelled_identities(identify(train), train[label])
    if holdout is None or holdout.is_empty():
        return own
    holdout = holdout.select(
        pl.col(IDENTITY).cast(own.schema[IDENTITY]), pl.col(LABEL).cast(own.schema[LABEL])
    )
    return pl.concat([own, holdout]).unique(maintain_order=True)


@dataclass(frozen=True)
class ClassConflicts:
    """One class's synthetic samples found identical to an original of another class."""

    found: int
    replaced: int
    dropped: int


@dataclass(frozen=True)
class Conflicts:
    """What the rebalance step did with synthetic samples identical to an original of
    another class (in train, val or test): `replaced` by a fresh draw or `dropped`."""

    identical: str
    per_class: dict[str, ClassConflicts] = field(default_factory=dict)

    @classmethod
    def counted(
        cls, identical: str, *, found: Mapping[Any, int], dropped: Mapping[Any, int]
    ) -> Conflicts:
        """From counts per class: what was found, and what was dropped (the rest replaced)."""
        per_class = {
            str(name): ClassConflicts(
                found=int(count),
                replaced=int(count) - int(dropped.get(name, 0)),
                dropped=int(dropped.get(name, 0)),
            )
            for name, count in sorted(found.items(), key=lambda item: str(item[0]))
            if count
        }
        return cls(identical, per_class)

    @property
    def found(self) -> int:
        return sum(item.found for item in self.per_class.values())

    @property
    def replaced(self) -> int:
        return sum(item.replaced for item in self.per_class.values())

    @property
    def dropped(self) -> int:
        return sum(item.dropped for item in self.per_class.values())

    def as_manifest(self) -> dict[str, Any]:
        """The manifest's `rebalance.conflicts`."""
        return {
            "identical": self.identical,
            "compared_with": ["train", *HOLDOUT_SPLITS],
            "found": self.found,
            "replaced": self.replaced,
            "dropped": self.dropped,
            "per_class": {
                name: {"found": item.found, "replaced": item.replaced, "dropped": item.dropped}
                for name, item in self.per_class.items()
            },
        }

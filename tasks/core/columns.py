"""The roles of a run's columns, and the names every modality shares."""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "val", "test")
# Marks the rows a rebalancing added (True) among the originals (False) in train.parquet.
SYNTHETIC = "is_synthetic"


@dataclass(frozen=True)
class Columns:
    """The roles of the columns a run keeps, in output order."""

    label: str
    features: tuple[str, ...]
    id_column: str | None = None
    group_column: str | None = None
    # Features declared categorical whatever their dtype (`categorical_columns`: integer codes
    # such as a 0/1 sex or suits 1-4), so no step interpolates them; set at ingest.
    categorical: tuple[str, ...] = ()

    @property
    def kept(self) -> list[str]:
        """Every kept column once: id, group, features, label."""
        ordered = [self.id_column, self.group_column, *self.features, self.label]
        return list(dict.fromkeys(name for name in ordered if name is not None))

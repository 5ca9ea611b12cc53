"""The config of an image run: the bad-file policy, the augmentation pipeline and the targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rebalance.config.common import (
    ClassTarget,
    CommonConfig,
    RebalanceSection,
    ValidationConfig,
    check_named_columns,
)
from rebalance.config.transforms import check_augmentations

# Index tables of image paths; a folder source has no columns to check.
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


class ImageValidationConfig(ValidationConfig):
    """Checks of an image dataset: the null check of the index plus decoding every file."""

    bad_files: Literal["fail", "skip"] = Field(
        "fail",
        description="Files that cannot be used (missing, unreadable, zero bytes, not an image, "
        "corrupt or truncated, 0 pixels wide or high, above `max_pixels`, a pixel format that "
        "cannot be augmented such as 32-bit float, not a regular file): `fail` stops the run "
        "and lists them; "
        "`skip` leaves them out and lists them in the report and manifest.",
    )
    max_pixels: int = Field(
        89_478_485,
        gt=0,
        description="Largest width × height accepted (decompression-bomb guard; Pillow itself "
        "refuses images above 178,956,970 pixels).",
    )


class ImageRebalanceConfig(RebalanceSection):
    """How minority classes of the training split are filled up with augmented copies."""

    augmentations: list[str | dict[str, dict[str, Any] | None]] | Path | None = Field(
        None,
        description="albumentations transforms by class name with their own parameters "
        "(`- HorizontalFlip: {p: 0.5}`), or the path of a pipeline saved by "
        "`albumentations.save` (.yaml/.json). Empty: the default pipeline, Affine (scale, "
        "rotate), CropAndPad, HorizontalFlip and ColorJitter.",
    )
    target: ClassTarget = Field(
        "majority",
        description="Training images per class after rebalancing: `majority` (the largest "
        "class's count), one number for every class, or a number per class name.",
    )
    undersample: bool = Field(
        False,
        description="Drop random (seeded) training originals of classes above the target.",
    )
    format: Literal["source", "png", "jpeg", "webp", "bmp", "tiff"] = Field(
        "source",
        description="File format of generated images; `source`: the source image's own "
        "(PNG where that format cannot hold the pixels).",
    )
    shard_size: int = Field(
        256, gt=0, description="Generated images per Prefect task (the unit of parallelism)."
    )

    @field_validator("augmentations")
    @classmethod
    def _known_transforms(cls, augmentations: Any) -> Any:
        check_augmentations(augmentations)
        return augmentations


class ImageConfig(CommonConfig):
    """An image dataset's run: an ImageFolder tree or a table of `path,label`."""

    modality: Literal["image"] = Field(..., description="Kind of data in `source`.")
    source: Path = Field(
        ...,
        description="A folder with one subfolder of images per class, or a CSV/Parquet table "
        "of image paths (relative to the table's folder) and labels.",
    )
    label: str = Field(
        "label",
        description="Label column of a source table; for a folder, the index's column of "
        "class subfolder names.",
    )
    path_column: str = Field(
        "path",
        description="Image path column of a source table. A path that leaves the dataset's "
        "root (absolute, `..`, a symlink pointing outside) is refused.",
    )
    validation: ImageValidationConfig = Field(default_factory=ImageValidationConfig)
    rebalance: ImageRebalanceConfig = Field(default_factory=ImageRebalanceConfig)

    @model_validator(mode="after")
    def _columns_exist(self) -> ImageConfig:
        if self.source.suffix.lower() in _TABLE_SUFFIXES:
            check_named_columns(self.source, {"label": self.label, "path_column": self.path_column})
        return self

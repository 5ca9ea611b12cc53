"""The image modality: files indexed as rows, minority classes filled with augmented copies.

Output layout, loadable as is by torchvision's `ImageFolder` and Keras'
`image_dataset_from_directory`::

    <run>/train/<class>/<original name>            hard link to the source (copy if impossible)
    <run>/train/<class>/<source stem>_aug<NNN>.<ext>  generated from that source
    <run>/val/<class>/..., <run>/test/<class>/...  originals only
    <run>/train.parquet, val.parquet, test.parquet  the index of each tree
    <run>/augmentations.yaml                       the pipeline, as `albumentations.save` wrote it
    <run>/contact_sheet.png                        originals beside their augmented copies
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rebalance.config import ImageConfig
from tasks.core.columns import Columns
from tasks.core.conflicts import split_identities
from tasks.core.contract import NOT_EVALUATED, Checked, Evaluated, Ingested, Modality, Resampled
from tasks.core.files import check_source_file, check_source_folder, file_sha256
from tasks.core.frames import write_parquet
from tasks.images.index import (
    PATH,
    SHA256,
    TABLE_EXTENSIONS,
    dataset_root,
    image_identity,
    read_index,
)
from tasks.images.originals import SOURCE_PATH, place_originals
from tasks.images.pipeline import build_pipeline, describe
from tasks.images.rebalance import rebalance_images
from validations.images import ImageFindings, NotIndexed, validate_images


@dataclass(frozen=True)
class ImageIngested(Ingested):
    """An image index as read, with what a folder scan left out and its class folders, which
    validation counts and checks (None for a table of paths)."""

    not_indexed: tuple[NotIndexed, ...] = ()
    class_folders: tuple[str, ...] | None = None


class ImageModality(Modality[ImageConfig]):
    """Image classification datasets: an ImageFolder tree or a `path,label` table."""

    def check_config(self, config: ImageConfig, /) -> str | None:
        compose = build_pipeline(config.rebalance.augmentations, seed=config.random_state)
        return f"albumentations ({describe(compose)})"

    def check_source(self, config: ImageConfig, /) -> None:
        # A folder of class subfolders, or a table of path,label: read_index's sentences.
        source = config.source
        if source.is_dir():
            check_source_folder(source)
        elif not source.exists() or source.suffix.lower() not in TABLE_EXTENSIONS:
            read_index(source, label=config.label, path_column=config.path_column)
        else:
            check_source_file(source)

    def fingerprint_inputs(self, config: ImageConfig, /) -> dict[str, Any] | None:
        # Every image's content, not the folder's: an edited image changes the outputs.
        if not config.source.exists():
            return None
        index = read_index(config.source, label=config.label, path_column=config.path_column)
        inputs: dict[str, Any] = {"source": index.listing_sha256}
        augmentations = config.rebalance.augmentations
        if isinstance(augmentations, Path) and augmentations.is_file():
            inputs["augmentations_file"] = file_sha256(augmentations)
        return inputs

    def ingest(self, config: ImageConfig, /) -> Ingested:
        index = read_index(config.source, label=config.label, path_column=config.path_column)
        return ImageIngested(
            frame=index.frame,
            columns=Columns(label=config.label, features=(PATH,)),
            source_sha256=index.listing_sha256,
            rows_read=index.frame.height,
            not_indexed=index.not_indexed,
            class_folders=index.class_folders,
        )

    def validate(
        self, ingested: Ingested, config: ImageConfig, output_dir: Path, /
    ) -> Checked[ImageFindings]:
        scanned = ingested if isinstance(ingested, ImageIngested) else None
        return validate_images(
            ingested.frame,
            root=dataset_root(config.source),
            label=config.label,
            path_column=PATH,
            hash_column=SHA256,
            null_policy=config.validation.null_policy,
            max_drop_fraction=config.validation.max_drop_fraction,
            bad_files=config.validation.bad_files,
            max_pixels=config.validation.max_pixels,
            dataset=config.name,
            output_dir=output_dir,
            expectations=config.validation.declared_expectations(),
            not_indexed=scanned.not_indexed if scanned else (),
            class_folders=scanned.class_folders if scanned else None,
        )

    def split_keys(
        self, frame: pl.DataFrame, columns: Columns, config: ImageConfig, /
    ) -> pl.Series | None:
        # Identical bytes under two names must not sit in train and in val/test.
        return frame[SHA256] if config.split.keep_duplicates_together else None

    def hash_keys(
        self, frame: pl.DataFrame, columns: Columns, config: ImageConfig, /
    ) -> pl.DataFrame:
        # The bytes, not the file name: a renamed or copied image keeps its split.
        return frame.select(SHA256)

    def sample_identity(self, frame: pl.DataFrame, columns: Columns, /) -> pl.Series:
        return image_identity(frame)

    def write_holdout(
        self,
        frame: pl.DataFrame,
        split: str,
        columns: Columns,
        config: ImageConfig,
        run_dir: Path,
        /,
    ) -> None:
        placed, _ = place_originals(
            frame,
            split=split,
            label=config.label,
            root=dataset_root(config.source),
            run_dir=run_dir,
        )
        write_parquet(placed, run_dir / f"{split}.parquet")

    def rebalance(
        self,
        train: pl.DataFrame,
        columns: Columns,
        config: ImageConfig,
        run_dir: Path,
        /,
        *,
        evaluated: Evaluated = NOT_EVALUATED,
    ) -> Resampled:
        # Val and test are in the run folder: no generated image may repeat one of another class.
        holdout = split_identities(run_dir, identify=image_identity, label=config.label)
        return rebalance_images(train, config=config, run_dir=run_dir, holdout=holdout)

    def output_columns(self) -> Mapping[str, str | None]:
        # train.parquet's path is the copy inside the run folder; source_path is the split's path.
        return {PATH: None, SOURCE_PATH: PATH}


MODALITY = ImageModality()

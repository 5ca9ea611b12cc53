"""Original images placed into a run folder: hard links to the sources (copies across
filesystems), under `<split>/<class>/`, with the index rows of train/val/test.parquet."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from tasks.core.columns import SYNTHETIC
from tasks.images.index import PATH, SHA256

SOURCE_PATH = "source_path"
AUGMENTATION = "augmentation"


def output_schema(label: str, label_dtype: pl.DataType) -> dict[str, pl.DataType]:
    """Columns of train/val/test.parquet: the same for all three."""
    return {
        PATH: pl.String,
        label: label_dtype,
        SYNTHETIC: pl.Boolean,
        SOURCE_PATH: pl.String,
        SHA256: pl.String,
        "width": pl.Int32,
        "height": pl.Int32,
        "mode": pl.String,
        AUGMENTATION: pl.String,
    }


def place_originals(
    frame: pl.DataFrame, /, *, split: str, label: str, root: Path, run_dir: Path
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Link (or copy) each image into `<run>/<split>/<class>/` and return its index rows.

    Names are the source's file name; two sources with one name in one class folder get
    `<stem>-<hash of the source path><ext>`.

    Returns:
        The index rows, and how many files were linked and copied.
    """
    schema = output_schema(label, frame.schema[label])
    names = [Path(path).name for path in frame[PATH].to_list()]
    keys = [(str(value), name.lower()) for value, name in zip(frame[label], names, strict=True)]
    taken = defaultdict(int)
    for key in keys:
        taken[key] += 1
    how = {"linked": 0, "copied": 0}
    rows: dict[str, list[Any]] = {name: [] for name in schema}
    for row, name, key in zip(frame.iter_rows(named=True), names, keys, strict=True):
        if taken[key] > 1:
            suffix = hashlib.sha256(row[PATH].encode()).hexdigest()[:8]
            name = f"{Path(name).stem}-{suffix}{Path(name).suffix}"
        folder = run_dir / split / str(row[label])
        folder.mkdir(parents=True, exist_ok=True)
        how[_link_or_copy(root / row[PATH], folder / name)] += 1
        rows[PATH].append(f"{split}/{row[label]}/{name}")
        rows[label].append(row[label])
        rows[SYNTHETIC].append(False)
        rows[SOURCE_PATH].append(row[PATH])
        rows[SHA256].append(row[SHA256])
        rows["width"].append(row["width"])
        rows["height"].append(row["height"])
        rows["mode"].append(row["mode"])
        rows[AUGMENTATION].append(None)
    return pl.DataFrame(rows, schema=schema), how


def _link_or_copy(source: Path, target: Path) -> str:
    # A retried step finds its own earlier link here. Unlinking it (never writing into it)
    # matters: the run folder's originals share their inode with the user's files.
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
        return "linked"
    except OSError:  # another filesystem, or one without hard links
        partial = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        return "copied"

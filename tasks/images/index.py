"""The index of an image dataset: one row per image file, read from a folder tree or a table.

Both input forms give the same polars frame (`path` relative to the dataset root, the label,
the file's size in bytes and its sha256), so the null check, the split and the report treat
images like table rows. Every path is checked to stay inside the dataset root: an absolute
path, a `..` that climbs out, or a symlink that points outside is refused with its name.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from rebalance.errors import DataError
from tasks.core.files import file_sha256
from tasks.core.tables import check_json_types, read_table, select_columns

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
TABLE_EXTENSIONS = (".csv", ".parquet", ".pq")
PATH = "path"
BYTES = "bytes"
SHA256 = "sha256"
# What "identical" means for two images (`image_identity`), for the manifest and report.
IMAGE_IDENTITY = (
    "equal file bytes: the sha256 of the image file (an original's as indexed, a generated "
    "image's as encoded); equal pixels written with another encoding are not identical"
)


@dataclass(frozen=True)
class ImageIndex:
    """The images of a dataset and the folder their relative paths start from."""

    frame: pl.DataFrame
    root: Path
    # sha256 over every (path, label, content hash): changes when any image changes.
    listing_sha256: str


def image_identity(frame: pl.DataFrame, /) -> pl.Series:
    """Each image's identity: its content hash (`sha256`), in every index and split file."""
    return frame[SHA256]


def dataset_root(source: Path, /) -> Path:
    """The folder image paths are relative to: the tree itself, or the table's folder."""
    return source if source.is_dir() else source.parent


def read_index(source: Path, /, *, label: str, path_column: str) -> ImageIndex:
    """Index an ImageFolder tree (`source/<class>/...`) or a `path,label` table.

    Raises:
        DataError: the source is missing or empty, a table column is missing, or a path
            escapes the dataset root.
    """
    if source.is_dir():
        paths, labels = _walk_tree(source)
        frame = pl.DataFrame(
            {PATH: paths, label: labels}, schema={PATH: pl.String, label: pl.String}
        )
        if frame.is_empty():
            msg = (
                f"image folder {source} holds no images in class subfolders; lay it out as "
                f"{source}/<class>/<image> with extensions {', '.join(IMAGE_EXTENSIONS)}"
            )
            raise DataError(msg)
    elif source.suffix.lower() in TABLE_EXTENSIONS:
        frame = _read_path_table(source, label=label, path_column=path_column)
    elif not source.exists():
        msg = (
            f"image source not found: {source}; point `source` at a folder of class "
            "subfolders or at a CSV/Parquet table of path,label"
        )
        raise DataError(msg)
    else:
        msg = (
            f"image source {source} is neither a folder nor a CSV/Parquet table; point "
            "`source` at a folder of class subfolders or a table of path,label"
        )
        raise DataError(msg)
    root = dataset_root(source)
    hashes = _hash_files(root, frame[PATH].to_list())
    frame = frame.with_columns(
        pl.Series(BYTES, [size for size, _ in hashes], dtype=pl.Int64),
        pl.Series(SHA256, [digest for _, digest in hashes], dtype=pl.String),
    )
    return ImageIndex(frame=frame, root=root, listing_sha256=_listing_sha256(frame, label))


def _walk_tree(root: Path) -> tuple[list[str], list[str]]:
    """Images under `root/<class>/` (any depth), sorted; hidden entries are skipped."""
    real_root = root.resolve()
    paths: list[str] = []
    labels: list[str] = []
    seen_dirs: set[str] = set()
    for directory, subdirs, files in os.walk(root, followlinks=True):
        here = Path(directory)
        real = os.path.realpath(here)
        if real in seen_dirs:  # a symlink loop inside the tree: walk each folder once
            subdirs.clear()
            continue
        seen_dirs.add(real)
        _refuse_escape(here, real_root, shown=here.relative_to(root).as_posix() or ".")
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        if here == root:
            continue  # files beside the class folders belong to no class
        relative_dir = here.relative_to(root)
        for name in sorted(files):
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            relative = (relative_dir / name).as_posix()
            _refuse_escape(here / name, real_root, shown=relative)
            paths.append(relative)
            labels.append(relative_dir.parts[0])
    return paths, labels


def _read_path_table(source: Path, *, label: str, path_column: str) -> pl.DataFrame:
    frame = read_table(source)
    frame, _ = select_columns(
        frame,
        label=label,
        features=[path_column] if path_column in frame.columns else None,
        id_column=None,
        group_column=None,
        source=source,
    )
    if path_column not in frame.columns:
        msg = (
            f"path column '{path_column}' is not in {source}; its columns are: "
            f"{', '.join(frame.columns)}. Set `path_column` in the config"
        )
        raise DataError(msg)
    check_json_types(
        source, [name for name in (label, path_column) if frame[name].dtype == pl.String]
    )
    if frame.schema[path_column] != pl.String:
        msg = f"path column '{path_column}' in {source} must hold file paths (text)"
        raise DataError(msg)
    frame = frame.select(pl.col(path_column).alias(PATH), label) if path_column != PATH else frame
    frame = frame.select(PATH, label)
    root = dataset_root(source).resolve()
    cleaned = []
    for value in frame[PATH].to_list():
        if value is None:
            cleaned.append(None)  # the null check reports it with the column's count
            continue
        text = value.strip()
        if Path(text).is_absolute() or text.startswith("\\"):
            msg = (
                f"image path '{value}' in {source} is absolute; write it relative to the "
                f"table's folder {root}"
            )
            raise DataError(msg)
        _refuse_escape(root / text, root, shown=text)
        cleaned.append(Path(os.path.normpath(text)).as_posix())
    return frame.with_columns(pl.Series(PATH, cleaned, dtype=pl.String))


def _refuse_escape(path: Path, real_root: Path, *, shown: str) -> None:
    real = Path(os.path.realpath(path))
    if real != real_root and not real.is_relative_to(real_root):
        how = "is a symlink to" if _has_symlink(path, real_root) else "resolves to"
        msg = (
            f"image path '{shown}' {how} {real}, outside the dataset root {real_root}; "
            "copy the file into the dataset or fix the path"
        )
        raise DataError(msg)


def _has_symlink(path: Path, real_root: Path) -> bool:
    return any(part.is_symlink() for part in [path, *path.parents] if part != real_root)


def _hash_files(root: Path, paths: list[str | None]) -> list[tuple[int | None, str | None]]:
    def one(relative: str | None) -> tuple[int | None, str | None]:
        if relative is None:
            return None, None
        path = root / relative
        try:
            return path.stat().st_size, file_sha256(path)
        except OSError:
            return None, None  # missing or unreadable: validation reports it as a bad file

    # Reading is IO-bound and hashlib releases the GIL on large buffers.
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 2)) as pool:
        return list(pool.map(one, paths))


def _listing_sha256(frame: pl.DataFrame, label: str) -> str:
    digest = hashlib.sha256()
    for path, value, content in frame.select(PATH, label, SHA256).sort(PATH).iter_rows():
        digest.update(f"{path}\t{value}\t{content}\n".encode())
    return digest.hexdigest()

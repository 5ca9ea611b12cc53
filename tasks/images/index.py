"""The index of an image dataset: one row per image file, read from a folder tree or a table.

Both input forms give the same polars frame (`path` relative to the dataset root, the label,
the file's size in bytes and its sha256), so the null check, the split and the report treat
images like table rows. Every path is checked to stay inside the dataset root: an absolute
path, a `..` that climbs out, or a symlink that points outside is refused with its name.

A folder scan indexes the files with an image extension (any case) and records what it leaves
out, per class folder and reason (hidden files and folders, other extensions, files beside the
class folders, a folder linked twice): validation counts and reports them. A class folder with
no file to index is an error that names it and what it holds.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from rebalance.errors import DataError
from tasks.core.files import file_sha256
from tasks.core.tables import check_json_types, read_table, select_columns
from validations.images import NotIndexed, describe_reasons, empty_classes_message

# What a folder scan indexes (compared in lower case). GIF is read as its first frame, as
# torchvision's ImageFolder and Keras read it; the copies made from it are PNG.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
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
    # What a folder scan left out, and its class folders (None: a table of paths).
    not_indexed: tuple[NotIndexed, ...] = ()
    class_folders: tuple[str, ...] | None = None


def image_identity(frame: pl.DataFrame, /) -> pl.Series:
    """Each image's identity: its content hash (`sha256`), in every index and split file."""
    return frame[SHA256]


def dataset_root(source: Path, /) -> Path:
    """The folder image paths are relative to: the tree itself, or the table's folder."""
    return source if source.is_dir() else source.parent


def read_index(source: Path, /, *, label: str, path_column: str) -> ImageIndex:
    """Index an ImageFolder tree (`source/<class>/...`) or a `path,label` table.

    Raises:
        DataError: the source is missing or empty, a class folder holds no image file, a table
            column is missing, or a path escapes the dataset root.
    """
    not_indexed: tuple[NotIndexed, ...] = ()
    class_folders: tuple[str, ...] | None = None
    if source.is_dir():
        scan = _walk_tree(source)
        frame = pl.DataFrame(
            {PATH: scan.paths, label: scan.labels}, schema={PATH: pl.String, label: pl.String}
        )
        _refuse_empty_tree(source, scan)
        not_indexed, class_folders = tuple(scan.not_indexed), tuple(scan.class_folders)
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
    return ImageIndex(
        frame=frame,
        root=root,
        listing_sha256=_listing_sha256(frame, label),
        not_indexed=not_indexed,
        class_folders=class_folders,
    )


@dataclass
class _Scan:
    """What a folder scan found: images with their class, what it left out, class folders."""

    paths: list[str]
    labels: list[str]
    not_indexed: list[NotIndexed]
    class_folders: list[str]


def _walk_tree(root: Path) -> _Scan:
    """Images under `root/<class>/` (any depth), sorted, and what was left out and why."""
    real_root = root.resolve()
    scan = _Scan([], [], [], [])
    seen_dirs: dict[str, str] = {}
    for directory, subdirs, files in os.walk(root, followlinks=True):
        here = Path(directory)
        relative_dir = here.relative_to(root)
        shown_dir = relative_dir.as_posix()
        label = relative_dir.parts[0] if relative_dir.parts else None
        real = os.path.realpath(here)
        if real in seen_dirs:  # a link to a folder already walked (or a loop): walk it once
            subdirs.clear()
            reason = f"the same folder as '{seen_dirs[real]}', indexed there"
            scan.not_indexed.append(NotIndexed(f"{shown_dir}/", label, reason))
            continue
        seen_dirs[real] = shown_dir
        _refuse_escape(here, real_root, shown=shown_dir or ".")
        for name in sorted(subdirs):
            if name.startswith("."):  # .git, .ipynb_checkpoints, ...: never read
                shown = (relative_dir / name).as_posix()
                scan.not_indexed.append(NotIndexed(f"{shown}/", label, "hidden folder"))
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        if here == root:
            scan.class_folders.extend(subdirs)
        for name in sorted(files):
            relative = (relative_dir / name).as_posix()
            reason = _not_indexed_because(name, label)
            if reason is not None:
                scan.not_indexed.append(NotIndexed(relative, label, reason))
                continue
            _refuse_escape(here / name, real_root, shown=relative)
            scan.paths.append(relative)
            scan.labels.append(label)
    return scan


def _not_indexed_because(name: str, label: str | None) -> str | None:
    """Why a folder scan leaves a file out of the index, or None when it is an image file."""
    if name.startswith("."):
        return "hidden file"
    if label is None:
        return "file beside the class folders"
    suffix = Path(name).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        return f"other extension ({suffix})" if suffix else "no extension"
    return None


def _refuse_empty_tree(source: Path, scan: _Scan) -> None:
    """A tree with no class folder, or a class folder with no image file, is an error."""
    extensions = ", ".join(IMAGE_EXTENSIONS)
    if not scan.class_folders:
        left = Counter(item.reason for item in scan.not_indexed)
        held = f" (it holds: {describe_reasons(left)})" if left else ""
        msg = (
            f"image folder {source} has no class subfolders{held}; lay it out as "
            f"{source}/<class>/<image> with extensions {extensions}"
        )
        raise DataError(msg)
    indexed = set(scan.labels)
    empty = [name for name in scan.class_folders if name not in indexed]
    if empty:
        left_out: dict[str, Counter[str]] = {name: Counter() for name in empty}
        for item in scan.not_indexed:
            if item.label in left_out:
                left_out[item.label][item.reason] += 1
        msg = empty_classes_message(
            {name: dict(sorted(reasons.items())) for name, reasons in left_out.items()},
            root=source,
            folders=True,
            fix=f"add images ({extensions}, any case) to it or remove the folder",
        )
        raise DataError(msg)


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
            status = path.stat()
            if not stat.S_ISREG(status.st_mode):
                return None, None  # a FIFO would block the read: validation reports it
            return status.st_size, file_sha256(path)
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

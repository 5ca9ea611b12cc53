"""Checks of an image dataset before it is split: nulls in the index, then every file decoded.

A file is bad when it is missing, unreadable (permissions), empty, not an image (whatever its
extension says), truncated or corrupt, 0 pixels wide or high, above the pixel limit (a
decompression bomb), in a pixel format the pipeline cannot augment, or not a regular file (a FIFO
would block the reader). An animated file is one image: its first frame is checked (and
augmented), and the report counts them. `bad_files: fail` stops the run with the list; `skip`
leaves them out and lists them in the manifest and report.

What was left out (bad files, and what a folder scan did not index: hidden files, other
extensions) is counted per class and reason for the log, the manifest and the report; a class
left with no usable image is an error that names it, what was skipped and the fix.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import struct
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from PIL import Image, UnidentifiedImageError

from rebalance.errors import DataError, ValidationFailed
from tasks.core.classes import check_class_sizes, class_counts
from tasks.core.contract import Checked
from tasks.core.markdown import render
from validations.drops import NullDrop, check_classes_left, check_drop_fraction, tolerated_nulls
from validations.expectations import Declared, check_outcomes
from validations.null_check import check_nulls

# Pixel formats the augmentation reads (see tasks.images.pixels.load_pixels).
SUPPORTED_MODES = frozenset(
    {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
    | {"I", "I;16", "I;16L", "I;16B", "I;16N"}
)
SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
EXIF_ORIENTATION = 0x0112
SHOWN_BAD_FILES = 20
# Files a folder scan did not index, listed by path in the report (all are counted).
SHOWN_NOT_INDEXED = 20
TEMPLATE = Path(__file__).with_name("templates") / "images.md.j2"
DROP_FIX = "fill in those paths and labels in the index"
UNREADABLE = (
    "unreadable: permission denied; give the user running the pipeline read access "
    "(chmod a+r) or remove the file"
)


@dataclass(frozen=True)
class Decoded:
    """What decoding one file found: its size and mode, or why it is unusable."""

    width: int | None = None
    height: int | None = None
    mode: str | None = None
    format: str | None = None
    orientation: int = 1
    # Frames in the file: above 1 for an animated GIF/WebP/PNG, of which the first is used.
    frames: int = 1
    problem: str | None = None
    # The problem's kind, for the counts per class and reason ("zero bytes", "not an image").
    reason: str | None = None


@dataclass(frozen=True)
class BadFile:
    """A file left out (or refused): its path in the index and why."""

    path: str
    problem: str


@dataclass(frozen=True)
class NotIndexed:
    """A file or folder a folder scan left out of the index: its path under the dataset root
    (a folder's ends with `/`), its class folder (None beside the class folders), and why."""

    path: str
    label: str | None
    reason: str


@dataclass(frozen=True)
class Duplicates:
    """Exact duplicates (same sha256): groups of files, the files in them, and the groups whose
    files carry more than one label."""

    groups: int
    images: int
    groups_with_conflicting_labels: int


@dataclass(frozen=True)
class ImageFindings:
    """What validating an image dataset found, for the manifest and the report."""

    bad_files_policy: str
    bad_files: list[BadFile]
    max_pixels: int
    duplicates: Duplicates
    modes: dict[str, int]
    exif_rotated: int
    animated: int
    # Files left out per class and reason: bad files, and what the folder scan did not index
    # (hidden, other extensions, a folder already indexed under another name).
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    # Files and folders beside the class folders (of no class), per reason.
    skipped_outside_classes: dict[str, int] = field(default_factory=dict)

    def as_manifest(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def decode(path: Path, /, *, max_pixels: int) -> Decoded:
    """Open and fully decode one image file; never raises for a bad file."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return Decoded(problem="file not found", reason="missing")
    except PermissionError:
        return Decoded(problem=UNREADABLE, reason="unreadable")
    except OSError as exc:
        return Decoded(problem=f"unreadable ({exc.strerror or exc})", reason="unreadable")
    if not stat.S_ISREG(status.st_mode):  # opening a FIFO would wait for a writer forever
        return Decoded(
            problem="not a regular file (a FIFO, socket or device); replace it with an image file",
            reason="not a regular file",
        )
    if status.st_size == 0:
        return Decoded(problem="zero bytes", reason="zero bytes")
    try:
        with warnings.catch_warnings():
            # Our own limit decides; Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    return Decoded(
                        problem=f"{width}×{height} = {width * height:,} pixels, above "
                        f"validation.max_pixels {max_pixels:,}",
                        reason="above max_pixels",
                    )
                image.load()  # the first frame: what augmentation and loaders use
                mode, kind = image.mode, image.format
                orientation = int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
                frames = int(getattr(image, "n_frames", 1) or 1)
    except Image.DecompressionBombError:
        return Decoded(
            problem=f"above Pillow's decompression-bomb limit (max_pixels {max_pixels:,})",
            reason="above max_pixels",
        )
    except PermissionError:
        return Decoded(problem=UNREADABLE, reason="unreadable")
    except UnidentifiedImageError:
        declared = _declared_size(path)
        if declared is not None and 0 in declared:
            return Decoded(
                problem=f"empty image: its header says {declared[0]}×{declared[1]} pixels",
                reason="0 pixels",
            )
        return Decoded(
            problem="not an image Pillow can read (wrong extension or not an image)",
            reason="not an image",
        )
    except (OSError, SyntaxError, ValueError) as exc:
        return Decoded(
            problem=f"corrupt or truncated ({_first_line(exc)})", reason="corrupt or truncated"
        )
    if mode not in SUPPORTED_MODES:
        return Decoded(
            problem=f"unsupported pixel mode '{mode}'; convert it to 8- or 16-bit",
            reason="unsupported pixel mode",
        )
    if orientation in (5, 6, 7, 8):  # rotated by 90°: the upright image is height × width
        width, height = height, width
    return Decoded(
        width=width,
        height=height,
        mode=mode,
        format=kind,
        orientation=orientation,
        frames=frames,
    )


def _declared_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF or BMP header (Pillow refuses 0-pixel images unnamed)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(26)
    except OSError:
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if head.startswith(b"BM") and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return abs(width), abs(height)
    return None


def validate_images(
    frame: pl.DataFrame,
    /,
    *,
    root: Path,
    label: str,
    path_column: str,
    hash_column: str,
    null_policy: str,
    bad_files: str,
    max_pixels: int,
    dataset: str,
    output_dir: Path,
    max_drop_fraction: float = 1.0,
    expectations: Sequence[Declared] = (),
    not_indexed: Sequence[NotIndexed] = (),
    class_folders: Sequence[str] | None = None,
) -> Checked[ImageFindings]:
    """Null check of the index and the config's expectations on it, decode every file, apply
    the bad-file policy, count duplicates and what was skipped.

    `path_column` holds each file's path under `root`, `hash_column` its sha256. Returns the
    index with `width`, `height` (upright, after EXIF orientation), `mode`,
    `format` and `orientation` columns added. Under `null_policy: drop` index rows with a
    null path or label are removed, up to `max_drop_fraction` of them (1.0: no limit).
    `not_indexed` is what a folder scan left out and `class_folders` its class folders (None
    for a table of paths): both are counted with the bad files per class and reason.

    Raises:
        ValidationFailed: nulls under `null_policy: fail`, a drop of more than
            `max_drop_fraction` of the index, or bad files under `bad_files: fail`, naming them.
        DataError: a class (folder) left with no usable image, a single class, or a class too
            small to split (naming the drop when it caused that).
    """
    checked_columns = [path_column, label]
    result = check_nulls(
        frame,
        columns=checked_columns,
        dataset=dataset,
        output_dir=output_dir,
        expectations=expectations,
        max_drop_fraction=tolerated_nulls(null_policy, max_drop_fraction),
    )
    with_nulls = {name: count for name, count in result.null_counts.items() if count}
    rows_dropped = 0
    if with_nulls and null_policy == "fail":
        listed = ", ".join(f"'{name}' ({count})" for name, count in with_nulls.items())
        msg = (
            f"null values in {listed} of the image index; fix the table or set "
            "validation.null_policy: drop"
        )
        raise ValidationFailed(msg)
    check_outcomes(result.outcomes, dataset=dataset)
    if with_nulls:
        kept = frame.drop_nulls(checked_columns)
        rows_dropped = frame.height - kept.height
        drop = NullDrop(frame.height, rows_dropped, with_nulls, fix=DROP_FIX)
        check_drop_fraction(drop, max_fraction=max_drop_fraction)
        # Before decoding: files skipped later are the bad-file policy's doing, not the drop's.
        check_classes_left(
            class_counts(kept[label]),
            read_counts=class_counts(frame[label]),
            label=label,
            drop=drop,
        )
        frame = kept

    paths = frame[path_column].to_list()
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 2)) as pool:
        found = list(pool.map(lambda rel: decode(root / rel, max_pixels=max_pixels), paths))
    bad = [
        BadFile(path, item.problem) for path, item in zip(paths, found, strict=True) if item.problem
    ]
    labels = frame[label].to_list()
    if bad and bad_files == "fail":
        shown = "; ".join(f"{item.path}: {item.problem}" for item in bad[:SHOWN_BAD_FILES])
        more = f" and {len(bad) - SHOWN_BAD_FILES} more" if len(bad) > SHOWN_BAD_FILES else ""
        msg = (
            f"{len(bad)} unusable image file(s) under {root}: {shown}{more}; fix or remove "
            "them, or set validation.bad_files: skip"
        )
        raise ValidationFailed(msg)
    frame = frame.with_columns(
        pl.Series("width", [item.width for item in found], dtype=pl.Int32),
        pl.Series("height", [item.height for item in found], dtype=pl.Int32),
        pl.Series("mode", [item.mode for item in found], dtype=pl.String),
        pl.Series("format", [item.format for item in found], dtype=pl.String),
        pl.Series("orientation", [item.orientation for item in found], dtype=pl.Int8),
        pl.Series("frames", [item.frames for item in found], dtype=pl.Int32),
    ).filter(pl.col("mode").is_not_null())

    counts = class_counts(frame[label])
    bad_reasons = [
        (value, item.reason or "bad file")
        for value, item in zip(labels, found, strict=True)
        if item.problem
    ]
    skipped, outside = skip_counts(bad_reasons, not_indexed)
    expected = list(class_folders) if class_folders is not None else list(dict.fromkeys(labels))
    empty = [name for name in expected if name not in counts]
    if empty:
        msg = empty_classes_message(
            {str(name): skipped.get(str(name), {}) for name in empty},
            root=root,
            folders=class_folders is not None,
        )
        raise DataError(msg)
    _check_folder_names(counts, label)
    check_class_sizes(counts, label=label)
    findings = ImageFindings(
        bad_files_policy=bad_files,
        bad_files=bad,
        max_pixels=max_pixels,
        duplicates=_duplicates(frame, label, hash_column),
        modes=dict(sorted(frame["mode"].value_counts().iter_rows())),
        exif_rotated=int((frame["orientation"] != 1).sum()),
        animated=int((frame["frames"] > 1).sum()),
        skipped=skipped,
        skipped_outside_classes=outside,
    )
    note = skip_note(skipped, outside, bad=len(bad), policy=bad_files)
    return Checked(
        frame=frame,
        # Bad files left out count as dropped, as nulls a drop policy removed do.
        rows_dropped=rows_dropped + len(bad),
        null_counts=result.null_counts,
        class_counts=counts,
        rows_dropped_for_nulls=rows_dropped,
        findings=findings,
        report_sections=(
            render(
                TEMPLATE,
                findings=findings,
                not_indexed=sorted(not_indexed, key=lambda item: item.path)[:SHOWN_NOT_INDEXED],
                not_indexed_total=len(not_indexed),
            ),
        ),
        expectations=tuple(outcome.as_manifest() for outcome in result.outcomes),
        notes=(note,) if note else (),
    )


def skip_counts(
    bad: Iterable[tuple[object, str]], not_indexed: Iterable[NotIndexed], /
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Files left out per class and reason, and per reason beside the class folders.

    Args:
        bad: (class, reason) of each bad file.
        not_indexed: What a folder scan left out of the index.

    Returns:
        {class: {reason: files}} (classes and reasons sorted), and {reason: files} of the
        files and folders that belong to no class folder.
    """
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    outside: Counter[str] = Counter()
    for value, reason in bad:
        per_class[str(value)][reason] += 1
    for item in not_indexed:
        if item.label is None:
            outside[item.reason] += 1
        else:
            per_class[item.label][item.reason] += 1
    return (
        {name: dict(sorted(per_class[name].items())) for name in sorted(per_class)},
        dict(sorted(outside.items())),
    )


def describe_reasons(reasons: Mapping[str, int], /) -> str:
    """`zero bytes 1, other extension (.txt) 2`: what was left out, by reason."""
    return ", ".join(f"{reason} {count}" for reason, count in reasons.items())


def skip_note(
    skipped: Mapping[str, Mapping[str, int]],
    outside: Mapping[str, int],
    /,
    *,
    bad: int,
    policy: str,
) -> str | None:
    """One line for the log: files left out per class and reason, or None when none were.

    Args:
        skipped: Files left out per class and reason (`skip_counts`).
        outside: Files and folders of no class, per reason.
        bad: How many of them are bad files (the rest: what the folder scan did not index).
        policy: `validation.bad_files`.
    """
    if not skipped and not outside:
        return None
    total = sum(sum(reasons.values()) for reasons in skipped.values()) + sum(outside.values())
    how = []
    if bad:
        how.append(f"{bad} bad, under validation.bad_files: {policy}")
    if total > bad:
        how.append(f"{total - bad} not indexed by the folder scan")
    parts = [f"class {name!r}: {describe_reasons(reasons)}" for name, reasons in skipped.items()]
    if outside:
        parts.append(f"no class: {describe_reasons(outside)}")
    return f"left out {total} file(s) ({'; '.join(how)}): {'; '.join(parts)}; report.md lists them"


def empty_classes_message(
    empty: Mapping[str, Mapping[str, int]],
    /,
    *,
    root: Path,
    folders: bool,
    fix: str | None = None,
) -> str:
    """The error for classes left with no usable image: each, what was skipped, and the fix.

    Args:
        empty: Each such class with its skipped files per reason (empty: it held nothing).
        root: The dataset root (a folder tree's, or the table's folder).
        folders: Whether the classes are folders of a tree (else values of a table's label).
        fix: What to do, when the default (replace the files or remove the folder/rows) is
            not it.
    """
    parts = []
    for name, reasons in empty.items():
        held = f"skipped {describe_reasons(reasons)}" if reasons else "it holds no files"
        parts.append(f"{name!r} ({root / name}: {held})" if folders else f"{name!r} ({held})")
    many = len(parts) > 1
    if folders:
        what = "class folders" if many else "class folder"
        fix = fix or "replace the skipped files with readable images, or remove the folder"
    else:
        what = "classes" if many else "class"
        fix = fix or f"fix or replace their image files under {root}, or remove their rows"
    has = "have" if many else "has"
    return f"{what} {', '.join(parts)} {has} no usable image; {fix}"


def _check_folder_names(counts: dict, label: str) -> None:
    # Each class becomes a folder: loaders skip hidden ones and a separator would nest it.
    for name in counts:
        text = str(name)
        if (
            not text.strip()
            or text in (".", "..")
            or text.startswith(".")
            or any(char in text for char in ("/", "\\", "\0"))
        ):
            msg = (
                f"class {name!r} of label '{label}' cannot be an output folder name (empty, "
                "hidden, or holding a path separator); rename the class"
            )
            raise DataError(msg)


def _duplicates(frame: pl.DataFrame, label: str, hash_column: str) -> Duplicates:
    groups = (
        frame.group_by(hash_column)
        .agg(pl.len().alias("copies"), pl.col(label).n_unique().alias("labels"))
        .filter(pl.col("copies") > 1)
    )
    return Duplicates(
        groups=groups.height,
        images=int(groups["copies"].sum() or 0),
        groups_with_conflicting_labels=int((groups["labels"] > 1).sum()),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

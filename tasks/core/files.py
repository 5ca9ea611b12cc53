"""File contents as hashes (what the manifest, the rerun check and the invariants compare), and
the checks that a source can be read and an output folder written before a run starts."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

from rebalance.errors import ConfigError, DataError

# What to do about an operating system error while outputs are written, by errno (the error
# itself names the path).
_ACCESS = (
    "give the user that runs rebalance access to it, or point `output` at a folder it can write"
)
OS_ERROR_FIXES = {
    errno.ENOSPC: "free space or point `output` at a larger disk",
    errno.EDQUOT: "free space within your disk quota or point `output` at another disk",
    errno.EROFS: "point `output` at a writable disk",
    errno.EACCES: _ACCESS,
    errno.EPERM: _ACCESS,
    errno.ENOTDIR: "move that file away or point `output` elsewhere",
    errno.EISDIR: "move that folder away or point `output` elsewhere",
}


def file_sha256(path: Path, /) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def os_error_reason(exc: OSError, /) -> str:
    """`<what> (<ERRNO>) at <path>`: the error as the operating system named it."""
    name = errno.errorcode.get(exc.errno or 0, "")
    what = (exc.strerror or str(exc)).rstrip(".")
    where = f" at {exc.filename}" if exc.filename else ""
    return f"{what[:1].lower()}{what[1:]}{f' ({name})' if name else ''}{where}"


def check_source_file(source: Path, /) -> None:
    """Refuse a source that is missing, a folder or unreadable, before anything reads it.

    Raises:
        DataError: naming the source and the fix.
    """
    if not source.exists():
        msg = (
            f"source file not found: {source}; check `source` in the config (relative paths "
            "resolve against the config file's folder)"
        )
        raise DataError(msg)
    if source.is_dir():
        msg = (
            f"source {source} is a folder, not a file; point `source` at the data file itself "
            "(a folder is a source for images only)"
        )
        raise DataError(msg)
    try:
        with source.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        msg = (
            f"cannot read source {source} ({os_error_reason(exc)}); give the user that runs "
            "rebalance read access to it, or point `source` at a readable copy"
        )
        raise DataError(msg) from None


def check_source_folder(source: Path, /) -> None:
    """Refuse a source folder whose entries cannot be listed.

    Raises:
        DataError: naming the folder and the fix.
    """
    try:
        with os.scandir(source) as entries:
            next(entries, None)
    except OSError as exc:
        msg = (
            f"cannot list source folder {source} ({os_error_reason(exc)}); give the user that "
            "runs rebalance read access to it, or point `source` at a readable copy"
        )
        raise DataError(msg) from None


def check_writable(folder: Path, /, *, key: str = "output") -> None:
    """Refuse, before a run starts, a folder it writes that cannot be created or written: a
    file in its way, a folder without write permission, a read-only or full filesystem.

    It creates and removes a probe folder in `folder`, or in the nearest folder above it that
    exists; nothing it creates stays. `key` is the config key that sets the folder.

    Raises:
        ConfigError: naming the folder, what stands in the way and the fix.
    """
    what = "output folder" if key == "output" else f"{key} folder"
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        msg = (
            f"the {what} {folder} cannot be created: {existing} is a file; point `{key}` at a "
            f"folder (or move {existing} away)"
        )
        raise ConfigError(msg)
    try:
        probe = tempfile.mkdtemp(prefix=".rebalance-probe-", dir=existing)
    except OSError as exc:
        exc.filename = exc.filename or str(existing)
        fix = OS_ERROR_FIXES.get(exc.errno or 0, "point `output` at a folder you can write")
        fix = fix.replace("`output`", f"`{key}`")
        msg = f"the {what} {folder} cannot be written ({os_error_reason(exc)}); {fix}"
        raise ConfigError(msg) from None
    os.rmdir(probe)

"""File contents as hashes: what the manifest, the rerun check and the invariants compare."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path, /) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Reuse `latest` when a rerun would reproduce it: same data, config, code and libraries.

A nightly deployment on unchanged input would otherwise redo the whole run (minutes of
augmentation or translation) to write byte-identical files. The fingerprint covers what
decides the outputs: the config, the data's content (every image's hash for a folder), an
augmentation file, local model folders, and the versions of rebalance and its libraries.
`latest` is reused only when its manifest has the same fingerprint and its files still
match their hashes; a run that fell back to an offline method records no fingerprint, so
the next run tries the real method again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rebalance.config import RunConfig
from rebalance.errors import RebalanceError
from tasks.ingest import file_sha256
from tasks.manifest import FINGERPRINT, MANIFEST_FILE, file_hashes, library_versions
from tasks.run_folder import LATEST, remove_abandoned_folders

# Settings that change how a run behaves, not what it writes.
_NOT_OUTPUT_SHAPING = {"retries", "retry_delay_seconds", "output"}


def input_fingerprint(config: RunConfig, /) -> str | None:
    """sha256 over everything that decides the run's outputs; None when the source is missing
    (ingest then reports it)."""
    try:
        source = _source_sha256(config)
    except RebalanceError:  # a source that cannot be read: ingest reports it
        return None
    if source is None:
        return None
    parts: dict[str, Any] = {
        "config": config.model_dump(mode="json", exclude=_NOT_OUTPUT_SHAPING),
        "source": source,
        "versions": library_versions(),
        "code": _code_sha256(),
    }
    augmentations = getattr(config.rebalance, "augmentations", None)
    if isinstance(augmentations, Path) and augmentations.is_file():
        parts["augmentations_file"] = file_sha256(augmentations)
    models = _local_model_listing(config)
    if models:
        parts["local_models"] = models
    encoded = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def reusable_run(config: RunConfig, fingerprint: str | None, /) -> Path | None:
    """The run folder behind `latest` when it has this fingerprint and its files are intact."""
    if fingerprint is None:
        return None
    latest = config.dataset_dir / LATEST
    try:
        manifest = json.loads((latest / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get(FINGERPRINT) != fingerprint:
        return None
    run_dir = latest.resolve()
    # Someone may have edited or deleted a file of the published run: then redo it.
    if file_hashes(run_dir) != manifest.get("files"):
        return None
    remove_abandoned_folders(config.dataset_dir)  # as a full run would
    return run_dir


def _code_sha256() -> str:
    """sha256 of rebalance's own modules: a changed step (even without a version bump) must
    not reuse outputs the old code wrote."""
    import flows
    import rebalance
    import tasks
    import validations

    digest = hashlib.sha256()
    for package in (flows, rebalance, tasks, validations):
        root = Path(package.__file__).parent
        for path in sorted(root.glob("*.py")):
            digest.update(f"{package.__name__}/{path.name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _source_sha256(config: RunConfig) -> str | None:
    if not config.source.exists():
        return None
    if config.modality == "image":
        from tasks.image_index import read_index

        return read_index(
            config.source, label=config.label, path_column=config.path_column
        ).listing_sha256
    return file_sha256(config.source)


def _local_model_listing(config: RunConfig) -> list[list[Any]]:
    """(file, size, mtime) of translation models given as local folders (hub models are
    pinned by `revision`, which is in the config)."""
    template = getattr(config.rebalance, "model", None)
    pivots = getattr(config.rebalance, "pivots", None)
    if not isinstance(template, str) or not pivots:
        return []
    source = config.rebalance.source_language
    names = {template.format(src=a, tgt=b) for p in pivots for a, b in ((source, p), (p, source))}
    listing = []
    for name in sorted(names):
        folder = Path(name).expanduser()
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                listing.append([str(path), stat.st_size, stat.st_mtime_ns])
    return listing

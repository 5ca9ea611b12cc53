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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rebalance.config import CommonConfig
from rebalance.errors import RebalanceError
from tasks.core.contract import Modality
from tasks.core.files import file_sha256
from tasks.run.folder import LATEST, remove_abandoned_folders
from tasks.run.manifest import FINGERPRINT, MANIFEST_FILE, file_hashes, library_versions

# The project's packages, and the files in them that decide what a run writes.
CODE_ROOTS = tuple(
    Path(__file__).parents[2] / name for name in ("flows", "rebalance", "tasks", "validations")
)
CODE_SUFFIXES = {".py", ".j2"}
# Settings that change how a run behaves, not what it writes.
_NOT_OUTPUT_SHAPING = {"retries", "retry_delay_seconds", "output", "retention"}


def input_fingerprint(config: CommonConfig, modality: Modality, /) -> str | None:
    """sha256 over everything that decides the run's outputs; None when the source cannot be
    read (ingest then reports it)."""
    try:
        inputs = modality.fingerprint_inputs(config)
    except RebalanceError:  # a source that cannot be read: ingest reports it
        return None
    if inputs is None:
        return None
    # How many runs the Data Docs site keeps is not part of a run's outputs either.
    exclude = {**dict.fromkeys(_NOT_OUTPUT_SHAPING, True), "validation": {"data_docs_keep"}}
    parts: dict[str, Any] = {
        "config": with_resolved_paths(
            config.model_dump(exclude=exclude), config.model_dump(mode="json", exclude=exclude)
        ),
        "versions": library_versions(),
        "code": code_sha256(),
        **inputs,
    }
    suite = config.validation.expectation_suite
    if suite is not None and suite.is_file():
        # The suite's expectations decide the validation as its path does not.
        parts["expectation_suite"] = file_sha256(suite)
    encoded = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def with_resolved_paths(python: Any, encoded: Any, /) -> Any:
    """`encoded` (a config dumped as JSON) with each path of `python` (the same config dumped
    as Python objects) made absolute and resolved.

    The CLI reads `source: demo/x.csv` against the config file's folder, a deployment's
    parameter keeps it relative to its working directory: the same file either way, and the
    same fingerprint, so each reuses the other's unchanged run.
    """
    if isinstance(python, Path):
        return python.resolve().as_posix()
    if isinstance(python, dict) and isinstance(encoded, dict):
        return {key: with_resolved_paths(python.get(key), value) for key, value in encoded.items()}
    sequences = isinstance(python, list | tuple) and isinstance(encoded, list)
    if sequences and len(python) == len(encoded):
        return [with_resolved_paths(*pair) for pair in zip(python, encoded, strict=True)]
    return encoded


def reusable_run(config: CommonConfig, fingerprint: str | None, /) -> Path | None:
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


def code_sha256(roots: Iterable[Path] = CODE_ROOTS, /) -> str:
    """sha256 of rebalance's own code, subpackages and report templates included: a changed
    step (even without a version bump) must not reuse outputs the old code wrote."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in CODE_SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(f"{root.name}/{path.relative_to(root).as_posix()}\n".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()

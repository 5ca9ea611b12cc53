"""Augmented copies of training images: the plan of what to make, and one shard's work.

- The plan uses every training image of a class round-robin: with `n` sources and `m` images
  to make, each source is used ⌊m/n⌋ or ⌈m/n⌉ times. Each generated image has its own seed,
  derived from the run's random_state, its source's path and its index, so reruns are
  byte-identical and sharding does not change any image.
- `augment_shard` makes a shard's images (a Prefect task run through `tasks.core.fanout`) and
  writes each atomically, recording the parameters each transform drew.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance import faults
from rebalance.errors import DataError
from tasks.images.index import PATH
from tasks.images.originals import SOURCE_PATH
from tasks.images.pipeline import compose_from_dict
from tasks.images.pixels import EXTENSION_OF, FORMATS, Pixels, encode, load_pixels
from tasks.images.seeding import Reseeder


def round_robin(sources: int, wanted: int, /, *, rng: np.random.Generator) -> np.ndarray:
    """How many images to make from each of `sources`: ⌊wanted/sources⌋ or one more.

    Which sources get the extra one is random (seeded), not always the first ones.
    """
    base, extra = divmod(wanted, sources)
    uses = np.full(sources, base, dtype=np.int64)
    uses[rng.permutation(sources)[:extra]] += 1
    return uses


def image_seed(run_seed: int, source: str, index: int, /) -> int:
    """The seed of one generated image: from the run seed, its source path and its index."""
    digest = hashlib.sha256(f"{run_seed}\0{source}\0{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def augment(
    compose, pixels: Pixels, /, *, seed: int, reseed: Callable[[int], None] | None = None
) -> tuple[Pixels, list[list[Any]]]:
    """One augmented copy and the parameters each applied transform drew.

    `reseed` (a `Reseeder` of `compose`, made once for many images) seeds the pipeline as
    `compose.set_random_seed` does, in less time.
    """
    (reseed or compose.set_random_seed)(seed)
    if pixels.alpha is None:
        result = compose(image=pixels.image)
        alpha = None
    else:
        result = compose(image=pixels.image, mask=pixels.alpha)
        alpha = np.ascontiguousarray(result["mask"]).reshape(result["image"].shape[:2])
    image = np.ascontiguousarray(result["image"])
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    applied = [[name, _plain(params)] for name, params in result.get("applied_transforms", [])]
    return Pixels(image.astype(pixels.image.dtype, copy=False), alpha, pixels.note), applied


def params_json(applied: list[list[Any]], /) -> str:
    """The applied transforms and their drawn parameters as compact, stable JSON."""
    return json.dumps(applied, sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    # Exact types first (most values are floats, ints and dicts); the isinstance chain below
    # handles the rest the same way, just slower (Mapping is an ABC).
    kind = type(value)
    if kind is float:
        return round(value, 6) if math.isfinite(value) else str(value)
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(key): _plain(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def plan_jobs(
    originals, per_class, *, label, seed, root, run_dir, output_format, rng
) -> list[dict[str, Any]]:
    """One job per image to generate, in a fixed order: class, source path, index."""
    jobs = []
    for name, facts in per_class.items():
        sources = originals.filter(pl.col(label) == name)
        wanted = max(facts["target"] - sources.height, 0)
        if not wanted:
            continue
        uses = round_robin(sources.height, wanted, rng=rng)
        for row, times in zip(sources.iter_rows(named=True), uses.tolist(), strict=True):
            placed = Path(row[PATH])
            source_ext = Path(row[SOURCE_PATH]).suffix.lower()
            extension = source_ext if output_format == "source" else EXTENSION_OF[output_format]
            if extension not in FORMATS:
                extension = ".png"
            for index in range(times):
                jobs.append(
                    {
                        "label": name,
                        "source": str(root / row[SOURCE_PATH]),
                        "source_path": row[SOURCE_PATH],
                        "folder": str(run_dir / placed.parent),
                        "stem": f"{placed.stem}_aug{index:03d}",
                        "extension": extension,
                        "seed": image_seed(seed, row[SOURCE_PATH], index),
                        "index": index,
                        "uses": times,
                    }
                )
    return jobs


def augment_shard(shard: list[dict[str, Any]], pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    """Make the shard's images; each job names its source, output stem and seed.

    Files are written under a temporary name and renamed, so a retried shard overwrites its
    own partial output instead of failing on it.
    """
    compose = compose_from_dict(pipeline)
    reseed = Reseeder(compose)
    done = []
    for job in shard:
        faults.inject("augment-image")
        source = Path(job["source"])
        try:
            pixels = load_pixels(source)
            made, applied = augment(compose, pixels, seed=job["seed"], reseed=reseed)
        except (OSError, ValueError) as exc:
            msg = f"cannot augment {job['source_path']}: {exc}; check the file and the pipeline"
            raise DataError(msg) from exc
        data, extension = encode(made, extension=job["extension"])
        target = Path(job["folder"]) / f"{job['stem']}{extension}"
        partial = target.with_name(f".{target.name}.part")
        partial.write_bytes(data)
        os.replace(partial, target)
        height, width = made.image.shape[:2]
        done.append(
            {
                "file": str(target),
                "sha256": hashlib.sha256(data).hexdigest(),
                "width": width,
                "height": height,
                "mode": made.mode,
                "augmentation": params_json(applied),
                "note": made.note,
                "fallback_png": extension != job["extension"],
            }
        )
    return done

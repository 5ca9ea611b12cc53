"""Minority classes of an image training split filled up with augmented copies.

The plan (`tasks.images.augment`) is cut into shards of `rebalance.shard_size` images, each a
Prefect task run on the config's runner (`tasks.core.fanout`), with a progress artifact moved
on as shards finish. The train tree, `train.parquet`, the pipeline file and a contact sheet
are written into the run folder.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance.config import ImageConfig
from rebalance.errors import DataError
from tasks.core.artifacts import png_data_uri, publish_markdown
from tasks.core.classes import class_counts
from tasks.core.columns import SYNTHETIC
from tasks.core.conflicts import LABEL, Conflicts, contradicting, original_identities
from tasks.core.contract import Resampled
from tasks.core.fanout import Progress, Shards
from tasks.core.frames import write_parquet
from tasks.core.markdown import escape_markdown, render
from tasks.core.targets import class_targets
from tasks.images.augment import augment_shard, plan_jobs
from tasks.images.index import IMAGE_IDENTITY, PATH, SHA256, dataset_root, image_identity
from tasks.images.originals import AUGMENTATION, SOURCE_PATH, place_originals
from tasks.images.pipeline import (
    PIPELINE_FILE,
    build_pipeline,
    describe,
    pipeline_dict,
    save_pipeline,
)
from tasks.images.sheet import SHEET_FILE, SheetRow, render_sheet

SHEET_SOURCES = 3
SHEET_COPIES = 3
TEMPLATE = Path(__file__).with_name("templates") / "augmentation.md.j2"


@dataclass(frozen=True)
class ClassAugmentation:
    """One class of the training split: its count, target, what was kept and generated."""

    before: int
    target: int
    kept: int
    generated: int
    after: int
    # Fewest and most copies made from one source image of the class.
    uses_per_source: list[int]


@dataclass(frozen=True)
class AugmentationFacts:
    """How an image run was rebalanced, for the manifest and the report."""

    pipeline_file: str
    pipeline: dict[str, Any]
    contact_sheet: str | None
    per_class: dict[str, ClassAugmentation]
    shards: int
    shard_size: int
    originals: dict[str, int]
    generated: int
    augment_seconds: float
    images_per_second: float | None

    def as_manifest(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def rebalance_images(
    train: pl.DataFrame,
    /,
    *,
    config: ImageConfig,
    run_dir: Path,
    holdout: pl.DataFrame | None = None,
) -> Resampled[AugmentationFacts]:
    """Fill each class of the training split up to its target with augmented copies.

    Undersamples classes above the target when `rebalance.undersample` is on. Writes the
    train tree, `train.parquet`, the pipeline file and the contact sheet into `run_dir`.
    A generated image identical to an original of another class (in the training split or
    in `holdout`, val's and test's `labelled_identities`) is dropped (`drop_contradicting`).
    """
    settings = config.rebalance
    label, seed, root = config.label, config.random_state, dataset_root(config.source)
    compose = build_pipeline(settings.augmentations, seed=seed)
    counts = class_counts(train[label])
    targets = class_targets(counts, settings.target)
    rng = np.random.default_rng(seed)
    notes: list[str] = []

    kept_parts, per_class = [], {}
    for name, count in counts.items():
        rows = train.filter(pl.col(label) == name).sort(PATH)
        target = targets[name]
        if count > target and settings.undersample:
            keep = np.sort(rng.choice(count, size=target, replace=False))
            rows = rows[keep]
        elif count > target:
            notes.append(
                f"class {name!r} has {count} training images, above its target {target}; kept "
                "all (set rebalance.undersample: true to drop some)"
            )
        kept_parts.append(rows)
        per_class[name] = {"before": count, "target": target, "kept": rows.height}
    kept = pl.concat(kept_parts)
    originals, how = place_originals(kept, split="train", label=label, root=root, run_dir=run_dir)

    jobs = plan_jobs(
        originals,
        per_class,
        label=label,
        seed=seed,
        root=root,
        run_dir=run_dir,
        output_format=settings.format,
        rng=rng,
    )
    pipeline = pipeline_dict(compose)
    size = settings.shard_size
    shards = [jobs[start : start + size] for start in range(0, len(jobs), size)]
    started = time.perf_counter()
    with Shards(
        config,
        name="augment-shard",
        what=f"augmenting {len(jobs)} images in {len(shards)} shards",
    ) as fan_out:
        by_shard = fan_out.run(
            augment_shard,
            shards,
            progress=Progress(
                "augment-progress",
                f"Augmented images of {config.name}: {len(jobs)} in {len(shards)} shards",
            ),
            pipeline=pipeline,
        )
    results = [done for shard in by_shard for done in shard]
    elapsed = time.perf_counter() - started
    planned = len(jobs)
    jobs, results, conflicts = drop_contradicting(
        jobs,
        results,
        originals=original_identities(train, holdout, identify=image_identity, label=label),
    )

    generated = _generated_rows(jobs, results, label=label, schema=originals.schema)
    _refuse_name_clashes(originals, generated)
    frame = pl.concat([originals, generated])
    write_parquet(frame, run_dir / "train.parquet")
    save_pipeline(compose, run_dir / PIPELINE_FILE)

    uses_by_class: dict[Any, list[int]] = defaultdict(list)
    for (name, _), uses in Counter((job["label"], job["source_path"]) for job in jobs).items():
        uses_by_class[name].append(uses)
    for name, plan in per_class.items():
        made = sum(1 for job in jobs if job["label"] == name)
        used = uses_by_class.get(name, [])
        unused = plan["kept"] - len(used)
        plan.update(
            generated=made,
            after=plan["kept"] + made,
            uses_per_source=[0 if unused else min(used), max(used)] if used else [0, 0],
        )
    notes += _result_notes(results)
    sheet = _contact_sheet(jobs, results, root=root, run_dir=run_dir)
    rate = planned / elapsed if planned and elapsed > 0 else None
    facts = AugmentationFacts(
        pipeline_file=PIPELINE_FILE,
        pipeline=pipeline,
        contact_sheet=SHEET_FILE if sheet else None,
        per_class={str(name): ClassAugmentation(**plan) for name, plan in per_class.items()},
        shards=len(shards),
        shard_size=settings.shard_size,
        originals=how,
        generated=planned,
        augment_seconds=round(elapsed, 3),
        images_per_second=round(rate, 1) if rate else None,
    )
    if sheet:
        _publish_sheet(run_dir / SHEET_FILE, config.name)
    return Resampled(
        frame=frame,
        requested=describe(compose),
        sampler="albumentations",
        params={
            "target": settings.target,
            "undersample": settings.undersample,
            "format": settings.format,
            "augmentations": [type(t).__name__ for t in compose.transforms],
        },
        notes=notes,
        facts=facts,
        report_sections=(render(TEMPLATE, facts=facts),),
        conflicts=conflicts,
    )


def drop_contradicting(
    jobs: list[dict[str, Any]], results: list[dict[str, Any]], /, *, originals: pl.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Conflicts]:
    """Drop generated images identical to an original image of another class.

    An augmentation that changes nothing re-encodes its source; when the same image is in
    the data under two classes, that copy repeats an original of the other class. Each job
    has its own seed and no spare candidates, so such an image is dropped (its file removed),
    not replaced.

    Args:
        jobs: The planned images (`plan_jobs`), each with its `label`.
        results: What `augment_shard` made of each, in the same order (`file`, `sha256`).
        originals: `labelled_identities` of the original images (train, val, test).

    Returns:
        The jobs and results kept, and the counts per class.
    """
    if not jobs:
        return jobs, results, Conflicts(IMAGE_IDENTITY)
    bad = contradicting(
        pl.Series([done["sha256"] for done in results], dtype=pl.String),
        pl.Series([job["label"] for job in jobs], dtype=originals.schema[LABEL]),
        originals=originals,
    ).to_list()
    found = Counter(job["label"] for job, drop in zip(jobs, bad, strict=True) if drop)
    for done, drop in zip(results, bad, strict=True):
        if drop:
            Path(done["file"]).unlink(missing_ok=True)
    kept = [index for index, drop in enumerate(bad) if not drop]
    return (
        [jobs[index] for index in kept],
        [results[index] for index in kept],
        Conflicts.counted(IMAGE_IDENTITY, found=found, dropped=found),
    )


def _generated_rows(jobs, results, *, label, schema) -> pl.DataFrame:
    rows: dict[str, list[Any]] = {name: [] for name in schema}
    for job, done in zip(jobs, results, strict=True):
        file = Path(done["file"])
        rows[PATH].append(f"train/{file.parent.name}/{file.name}")
        rows[label].append(job["label"])
        rows[SYNTHETIC].append(True)
        rows[SOURCE_PATH].append(job["source_path"])
        rows[SHA256].append(done["sha256"])
        rows["width"].append(done["width"])
        rows["height"].append(done["height"])
        rows["mode"].append(done["mode"])
        rows[AUGMENTATION].append(done["augmentation"])
    return pl.DataFrame(rows, schema=schema)


def _refuse_name_clashes(originals: pl.DataFrame, generated: pl.DataFrame) -> None:
    clash = set(originals[PATH]) & set(generated[PATH])
    if clash:
        first = sorted(clash)[0]
        msg = (
            f"training image {first} is named like a generated copy (<name>_augNNN); rename "
            "that source file"
        )
        raise DataError(msg)


def _result_notes(results) -> list[str]:
    notes = []
    kinds = defaultdict(int)
    for done in results:
        if done["note"]:
            kinds[done["note"]] += 1
        if done["mode"] == "I;16":
            kinds["16-bit images augmented and written as 16-bit (PNG/TIFF)"] += 1
        if done["fallback_png"]:
            kinds[f"{done['mode']} images written as PNG (the chosen format cannot hold them)"] += 1
    for text, count in sorted(kinds.items()):
        notes.append(f"{text}: {count} generated images")
    return notes


def _contact_sheet(jobs, results, *, root: Path, run_dir: Path) -> bool:
    by_source: dict[tuple[Any, str], list[Path]] = {}
    for job, done in zip(jobs, results, strict=True):
        by_source.setdefault((job["label"], job["source_path"]), []).append(Path(done["file"]))
    rows, shown = [], defaultdict(int)
    for (name, source), files in by_source.items():
        if shown[name] < SHEET_SOURCES:
            shown[name] += 1
            rows.append(SheetRow(str(name), root / source, files[:SHEET_COPIES]))
    if not rows:
        return False
    render_sheet(rows, run_dir / SHEET_FILE, columns=1 + SHEET_COPIES)
    return True


def _publish_sheet(path: Path, name: str) -> None:
    publish_markdown(
        name,
        "contact-sheet",
        markdown=f"# Augmented images of {escape_markdown(name)}\n\nOriginal (red frame) beside "
        f"its augmented copies, a few per class.\n\n![contact sheet]({png_data_uri(path)})\n",
        description=f"Contact sheet of {name}",
    )

"""The image modality: files indexed as rows, minority classes filled with augmented copies.

Output layout, loadable as is by torchvision's `ImageFolder` and Keras'
`image_dataset_from_directory`::

    <run>/train/<class>/<original name>            hard link to the source (copy if impossible)
    <run>/train/<class>/<source stem>_aug<NNN>.<ext>  generated from that source
    <run>/val/<class>/..., <run>/test/<class>/...  originals only
    <run>/train.parquet, val.parquet, test.parquet  the index of each tree
    <run>/augmentations.yaml                       the pipeline, as `albumentations.save` wrote it
    <run>/contact_sheet.png                        originals beside their augmented copies

The augmentation work is cut into shards of `rebalance.shard_size` images, each a Prefect task
(mapped on the flow's task runner), with a progress artifact updated as shards finish.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from rebalance import faults
from rebalance.config import ImageConfig
from rebalance.errors import DataError
from tasks.image_augment import (
    EXTENSION_OF,
    FORMATS,
    PIPELINE_FILE,
    augment,
    build_pipeline,
    class_targets,
    compose_from_dict,
    describe,
    encode,
    image_seed,
    load_pixels,
    params_json,
    pipeline_dict,
    round_robin,
    save_pipeline,
)
from tasks.image_index import PATH, SHA256, dataset_root, read_index
from tasks.image_sheet import SHEET_FILE, SheetRow, data_uri, render_sheet
from tasks.ingest import Columns
from tasks.modality import SYNTHETIC, CheckedTable, Ingested, Resampled, write_parquet
from tasks.split import class_counts
from tasks.steps import retry_unless_user_error, with_policy

SOURCE_PATH = "source_path"
AUGMENTATION = "augmentation"
SHEET_SOURCES = 3
SHEET_COPIES = 3


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


class ImageModality:
    """Image classification datasets: an ImageFolder tree or a `path,label` table."""

    # train.parquet's path is the copy inside the run folder; source_path is the split's path.
    output_columns: ClassVar[dict[str, str | None]] = {PATH: None, SOURCE_PATH: PATH}

    def check_config(self, config: ImageConfig, /) -> str | None:
        compose = build_pipeline(config.rebalance.augmentations, seed=config.split.seed)
        return f"albumentations ({describe(compose)})"

    def ingest(self, config: ImageConfig, /) -> Ingested:
        index = read_index(config.source, label=config.label, path_column=config.path_column)
        return Ingested(
            frame=index.frame,
            columns=Columns(label=config.label, features=(PATH,)),
            source_sha256=index.listing_sha256,
            rows_read=index.frame.height,
        )

    def validate(
        self, ingested: Ingested, config: ImageConfig, output_dir: Path, /
    ) -> CheckedTable:
        from validations.image_checks import validate_images

        return validate_images(
            ingested.frame,
            root=dataset_root(config.source),
            label=config.label,
            null_policy=config.validation.null_policy,
            bad_files=config.validation.bad_files,
            max_pixels=config.validation.max_pixels,
            dataset=config.name,
            output_dir=output_dir,
        )

    def group_keys(
        self, frame: pl.DataFrame, columns: Columns, config: ImageConfig, /
    ) -> pl.Series | None:
        # Identical bytes under two names must not sit in train and in val/test.
        return frame[SHA256] if config.split.keep_duplicates_together else None

    def write_holdout(
        self,
        frame: pl.DataFrame,
        split: str,
        columns: Columns,
        config: ImageConfig,
        run_dir: Path,
        /,
    ) -> None:
        placed, _ = place_originals(
            frame,
            split=split,
            label=config.label,
            root=dataset_root(config.source),
            run_dir=run_dir,
        )
        write_parquet(placed, run_dir / f"{split}.parquet")

    def rebalance(
        self, train: pl.DataFrame, columns: Columns, config: ImageConfig, run_dir: Path, /
    ) -> Resampled:
        return rebalance_images(train, config=config, run_dir=run_dir)


IMAGE = ImageModality()


# ---- originals ----------------------------------------------------------------------------


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


# ---- rebalancing --------------------------------------------------------------------------


@task(name="augment-shard", cache_policy=NO_CACHE, retry_condition_fn=retry_unless_user_error)
def augment_shard_task(jobs: list[dict[str, Any]], pipeline: dict[str, Any]) -> list[dict]:
    """Prefect task around `augment_shard`: one shard of the plan."""
    return augment_shard(jobs, pipeline)


def augment_shard(jobs: list[dict[str, Any]], pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    """Make the shard's images; each job names its source, output stem and seed.

    Files are written under a temporary name and renamed, so a retried shard overwrites its
    own partial output instead of failing on it.
    """
    compose = compose_from_dict(pipeline)
    done = []
    for job in jobs:
        faults.inject("augment-image")
        source = Path(job["source"])
        try:
            pixels = load_pixels(source)
            made, applied = augment(compose, pixels, seed=job["seed"])
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


def rebalance_images(train: pl.DataFrame, /, *, config: ImageConfig, run_dir: Path) -> Resampled:
    """Fill each class of the training split up to its target with augmented copies.

    Undersamples classes above the target when `rebalance.undersample` is on. Writes the
    train tree, `train.parquet`, the pipeline file and the contact sheet into `run_dir`.
    """
    settings = config.rebalance
    label, seed, root = config.label, config.split.seed, dataset_root(config.source)
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

    jobs = _plan(
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
    started = time.perf_counter()
    results = _run_shards(jobs, pipeline, config=config)
    elapsed = time.perf_counter() - started

    generated = _generated_rows(jobs, results, label=label, schema=originals.schema)
    _refuse_name_clashes(originals, generated)
    frame = pl.concat([originals, generated])
    write_parquet(frame, run_dir / "train.parquet")
    save_pipeline(compose, run_dir / PIPELINE_FILE)

    uses_by_class: dict[Any, list[int]] = defaultdict(list)
    for job in jobs:
        if job["index"] == 0:
            uses_by_class[job["label"]].append(job["uses"])
    for name, facts in per_class.items():
        made = sum(1 for job in jobs if job["label"] == name)
        used = uses_by_class.get(name, [])
        unused = facts["kept"] - len(used)
        facts.update(
            generated=made,
            after=facts["kept"] + made,
            uses_per_source=[0 if unused else min(used), max(used)] if used else [0, 0],
        )
    notes += _result_notes(results)
    sheet = _contact_sheet(jobs, results, root=root, run_dir=run_dir)
    rate = len(jobs) / elapsed if jobs and elapsed > 0 else None
    extra = {
        "pipeline_file": PIPELINE_FILE,
        "pipeline": pipeline,
        "contact_sheet": SHEET_FILE if sheet else None,
        "per_class": {str(name): facts for name, facts in per_class.items()},
        "shards": _shard_count(len(jobs), settings.shard_size),
        "shard_size": settings.shard_size,
        "originals": how,
        "generated": len(jobs),
        "augment_seconds": round(elapsed, 3),
        "images_per_second": round(rate, 1) if rate else None,
    }
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
        extra=extra,
        report_sections=[_report_section(extra, sheet)],
    )


def _plan(originals, per_class, *, label, seed, root, run_dir, output_format, rng):
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


def _shard_count(jobs: int, size: int) -> int:
    return -(-jobs // size)


def _run_shards(jobs, pipeline, *, config: ImageConfig) -> list[dict[str, Any]]:
    """Run the shards as mapped Prefect tasks inside a flow run, inline otherwise."""
    from prefect.context import FlowRunContext

    size = config.rebalance.shard_size
    shards = [jobs[start : start + size] for start in range(0, len(jobs), size)]
    if not shards:
        return []
    if FlowRunContext.get() is None:  # a plain call (tests, notebooks): no Prefect needed
        return [done for shard in shards for done in augment_shard(shard, pipeline)]

    from prefect import get_run_logger
    from prefect.artifacts import create_progress_artifact, update_progress_artifact
    from prefect.futures import as_completed
    from prefect.utilities.annotations import unmapped

    from rebalance.runner import describe as describe_runner
    from rebalance.runner import started_task_runner
    from tasks.report import artifact_key

    progress = create_progress_artifact(
        0.0,
        key=artifact_key(config.name, "augment-progress"),
        description=f"Augmented images of {config.name}: {len(jobs)} in {len(shards)} shards",
    )
    results: list[list[dict[str, Any]] | None] = [None] * len(shards)
    # The config's runner (threads, or Dask processes), not the flow's: the config is the
    # flow's parameter, so a deployment's run honours it too. A local Dask cluster lives
    # for this step only.
    where = describe_runner(config.runner)
    get_run_logger().info("augmenting %d images in %d shards on %s", len(jobs), len(shards), where)
    with started_task_runner(config.runner) as runner:
        futures = runner.map(
            with_policy(augment_shard_task, config),
            {"jobs": shards, "pipeline": unmapped(pipeline)},
        )
        position = {future.task_run_id: index for index, future in enumerate(futures)}
        made = 0
        for future in as_completed(futures):
            results[position[future.task_run_id]] = future.result()
            made += len(shards[position[future.task_run_id]])
            update_progress_artifact(progress, 100.0 * made / len(jobs))
    return [done for shard in results for done in shard or []]


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
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return
    from prefect.artifacts import create_markdown_artifact

    from tasks.report import artifact_key

    create_markdown_artifact(
        key=artifact_key(name, "contact-sheet"),
        markdown=f"# Augmented images of {name}\n\nOriginal (red frame) beside its augmented "
        f"copies, a few per class.\n\n![contact sheet]({data_uri(path)})\n",
        description=f"Contact sheet of {name}",
    )


def _report_section(extra: dict[str, Any], sheet: bool) -> str:
    lines = [
        "## Augmentation",
        "",
        f"Pipeline (albumentations, saved as `{extra['pipeline_file']}`): "
        + ", ".join(
            f"`{item['__class_fullname__']}`"
            for item in extra["pipeline"]["transform"]["transforms"]
        ),
        "",
        "| class | train before | target | kept | generated | after | uses per source |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, facts in extra["per_class"].items():
        low, high = facts["uses_per_source"]
        lines.append(
            f"| {name} | {facts['before']} | {facts['target']} | {facts['kept']} "
            f"| {facts['generated']} | {facts['after']} | {low}–{high} |"
        )
    lines += [
        "",
        f"{extra['generated']} images generated in {extra['shards']} shards of up to "
        f"{extra['shard_size']} ({extra['augment_seconds']} s"
        + (f", {extra['images_per_second']} images/s" if extra["images_per_second"] else "")
        + f"); originals linked {extra['originals']['linked']}, copied "
        f"{extra['originals']['copied']}.",
        "",
    ]
    if sheet:
        lines += ["![originals beside augmented copies](contact_sheet.png)", ""]
    return "\n".join(lines)

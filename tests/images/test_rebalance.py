"""The image modality's steps without Prefect: split, holdouts, augmentation, output trees."""

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from rebalance.config import parse_config
from tasks.core.conflicts import labelled_identities
from tasks.images.modality import MODALITY as IMAGE
from tasks.images.rebalance import drop_contradicting
from tests.helpers import split_without_prefect
from tests.image_helpers import (
    count_tree,
    image_tree,
    write_animated,
    write_cmyk_jpeg,
    write_image,
)

COUNTS = {"big": 20, "mid": 9, "tiny": 4}


def _config(source: Path, **rebalance):
    return parse_config(
        {
            "name": "t",
            "modality": "image",
            "source": str(source),
            "output": str(source.parent / "out"),
            "split": {"fractions": {"train": 0.5, "val": 0.25, "test": 0.25}, "seed": 7},
            "rebalance": {"shard_size": 16, **rebalance},
        }
    )


def _run(source: Path, run_dir: Path, **rebalance):
    """ingest → validate → split → holdouts → rebalance, as the flow's tasks call them."""
    config = _config(source, **rebalance)
    ingested, _, splits = split_without_prefect(IMAGE, config, run_dir)
    resampled = IMAGE.rebalance(splits.train, ingested.columns, config, run_dir)
    return splits, resampled


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Mixed pixel kinds, a duplicate pair across classes' names, an EXIF-free tree."""
    root = image_tree(
        tmp_path_factory.mktemp("images") / "data", COUNTS, kinds=("L", "RGB", "RGBA", "I;16")
    )
    # The same bytes under two names in one class: they must share a split.
    (root / "mid" / "dup.png").write_bytes((root / "mid" / "img000.png").read_bytes())
    return root


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    splits, resampled = _run(dataset, run_dir)
    return run_dir, splits, resampled


def _tree_bytes(run_dir: Path, split: str) -> dict[str, str]:
    return {
        path.relative_to(run_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((run_dir / split).rglob("*"))
        if path.is_file()
    }


def test_every_class_reaches_the_majority_count_in_train(run):
    run_dir, splits, resampled = run
    before = Counter(splits.train["label"].to_list())

    after = Counter(resampled.frame["label"].to_list())

    assert set(after.values()) == {max(before.values())}
    assert count_tree(run_dir / "train") == dict(after)
    assert resampled.frame.filter(~pl.col("is_synthetic")).height == splits.train.height


def test_sources_are_used_round_robin(run):
    _, splits, resampled = run
    generated = resampled.frame.filter(pl.col("is_synthetic"))
    peak = max(Counter(splits.train["label"].to_list()).values())

    for label, group in splits.train.group_by("label"):
        sources = group["path"].to_list()
        uses = Counter(generated.filter(pl.col("label") == label[0])["source_path"].to_list())
        k = (peak - len(sources)) / len(sources)
        counts = {uses.get(source, 0) for source in sources}
        assert counts <= {int(np.floor(k)), int(np.ceil(k))}, (label, counts, k)


def test_val_and_test_hold_originals_only_and_nothing_derives_from_them(run, dataset):
    run_dir, splits, resampled = run
    holdout = set(splits.val["path"]) | set(splits.test["path"])

    assert not set(resampled.frame["source_path"]) & holdout
    for name in ("val", "test"):
        index = pl.read_parquet(run_dir / f"{name}.parquet")
        assert not index["is_synthetic"].any()
        assert index["augmentation"].null_count() == index.height
        assert sorted(index["source_path"]) == sorted(splits.frames()[name]["path"])
        assert count_tree(run_dir / name) == dict(Counter(index["label"].to_list()))
        for row in index.iter_rows(named=True):
            assert (run_dir / row["path"]).samefile(dataset / row["source_path"])


def test_duplicates_stay_in_one_split(run):
    _, splits, _ = run
    where = {
        name: {"mid/img000.png", "mid/dup.png"} & set(frame["path"])
        for name, frame in splits.frames().items()
    }

    assert sorted(len(found) for found in where.values()) == [0, 0, 2]


def test_originals_are_hard_links_of_the_sources(run, dataset):
    run_dir, _, resampled = run
    originals = resampled.frame.filter(~pl.col("is_synthetic"))

    for row in originals.head(5).iter_rows(named=True):
        assert (run_dir / row["path"]).samefile(dataset / row["source_path"])
    assert resampled.facts.originals == {"linked": originals.height, "copied": 0}


def test_generated_images_keep_the_mode_of_their_source_and_record_params(run, dataset):
    run_dir, _, resampled = run
    generated = resampled.frame.filter(pl.col("is_synthetic"))

    for row in generated.iter_rows(named=True):
        with Image.open(dataset / row["source_path"]) as source:
            source_mode = source.mode
        with Image.open(run_dir / row["path"]) as made:
            assert made.mode == source_mode == row["mode"]
        assert Path(row["path"]).name.startswith(Path(row["source_path"]).stem + "_aug")
        applied = [name for name, _ in json.loads(row["augmentation"])]
        assert set(applied) <= {"Affine", "CropAndPad", "HorizontalFlip", "ColorJitter"}
        assert hashlib.sha256((run_dir / row["path"]).read_bytes()).hexdigest() == row["sha256"]
    assert set(generated["mode"]) == {"L", "RGB", "RGBA", "I;16"}


def test_pipeline_and_contact_sheet_are_written(run):
    run_dir, _, resampled = run

    assert (run_dir / "augmentations.yaml").read_text().startswith("__version__")
    with Image.open(run_dir / "contact_sheet.png") as sheet:
        assert sheet.mode == "RGB" and sheet.height > 72
    assert (
        "![originals beside augmented copies](contact_sheet.png)" in (resampled.report_sections[0])
    )
    assert resampled.facts.per_class["tiny"].generated > 0


def test_rerun_and_other_shard_sizes_give_byte_identical_outputs(run, dataset, tmp_path):
    run_dir, _, _ = run

    _run(dataset, tmp_path / "again", shard_size=1)

    for name in ("train", "val", "test"):
        assert _tree_bytes(tmp_path / "again", name) == _tree_bytes(run_dir, name)
    for name in ("train.parquet", "contact_sheet.png", "augmentations.yaml"):
        assert (tmp_path / "again" / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_undersampling_and_a_per_class_target(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 8, "b": 2, "c": 4})
    for index in range(3):  # val/test need one image of each class
        write_image(root / "b" / f"more{index}.png", seed=500 + index)

    _, resampled = _run(root, tmp_path / "run", target={"a": 3, "b": 5}, undersample=True)

    train_before = resampled.facts.per_class
    after = Counter(resampled.frame["label"].to_list())
    assert after == {"a": 3, "b": 5, "c": train_before["c"].before}
    assert train_before["a"].before > 3
    assert resampled.frame.filter(pl.col("label") == "a")["is_synthetic"].sum() == 0
    assert count_tree(tmp_path / "run" / "train")["a"] == 3


def test_placing_originals_twice_as_a_retry_does_leaves_the_sources_intact(tmp_path):
    from tasks.images.originals import place_originals

    root = image_tree(tmp_path / "data", {"a": 2, "b": 1})
    before = {path: path.read_bytes() for path in root.rglob("*.png")}
    frame = IMAGE.ingest(_config(root)).frame.with_columns(
        pl.lit(16, pl.Int32).alias("width"),
        pl.lit(24, pl.Int32).alias("height"),
        pl.lit("L").alias("mode"),
    )

    for _ in range(2):
        placed, how = place_originals(
            frame, split="train", label="label", root=root, run_dir=tmp_path / "run"
        )

    assert how == {"linked": 3, "copied": 0}
    assert count_tree(tmp_path / "run" / "train") == {"a": 2, "b": 1}
    assert {path: path.read_bytes() for path in root.rglob("*.png")} == before
    assert placed["path"].to_list() == [
        "train/a/img000.png",
        "train/a/img001.png",
        "train/b/img000.png",
    ]


def test_two_sources_with_one_name_in_one_class_get_distinct_names(tmp_path):
    from tasks.images.originals import place_originals

    write_image(tmp_path / "x" / "a.png", seed=1)
    write_image(tmp_path / "y" / "a.png", seed=2)
    frame = pl.DataFrame(
        {
            "path": ["x/a.png", "y/a.png"],
            "label": ["c", "c"],
            "sha256": ["1", "2"],
            "width": [16, 16],
            "height": [24, 24],
            "mode": ["L", "L"],
        },
        schema_overrides={"width": pl.Int32, "height": pl.Int32},
    )

    placed, _ = place_originals(
        frame, split="val", label="label", root=tmp_path, run_dir=tmp_path / "r"
    )

    names = placed["path"].to_list()
    assert len(set(names)) == 2
    assert all(re.fullmatch(r"val/c/a-[0-9a-f]{8}\.png", name) for name in names)
    assert count_tree(tmp_path / "r" / "val") == {"c": 2}


def test_configured_format_is_used_where_it_can_hold_the_pixels(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 8, "b": 4}, kinds=("L", "RGB", "RGBA", "I;16"))

    _, resampled = _run(root, tmp_path / "run", format="jpeg")

    generated = resampled.frame.filter(pl.col("is_synthetic"))
    suffix = {
        mode: {Path(p).suffix for p in group["path"]}
        for (mode,), group in generated.group_by("mode")
    }
    assert suffix.get("L", {".jpg"}) == {".jpg"} and suffix.get("RGB", {".jpg"}) == {".jpg"}
    assert suffix.get("RGBA", {".png"}) == {".png"} and suffix.get("I;16", {".png"}) == {".png"}
    assert {".jpg", ".png"} <= set().union(*suffix.values())
    assert any("written as PNG" in note for note in resampled.notes)


def test_originals_are_copied_where_hard_links_fail(tmp_path, monkeypatch):
    import tasks.images.originals as image_modality

    def no_links(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(image_modality.os, "link", no_links)
    root = image_tree(tmp_path / "data", {"a": 4, "b": 3})

    _, resampled = _run(root, tmp_path / "run")

    originals = resampled.frame.filter(~pl.col("is_synthetic"))
    assert resampled.facts.originals == {"linked": 0, "copied": originals.height}
    for row in originals.iter_rows(named=True):
        copy = tmp_path / "run" / row["path"]
        assert not copy.samefile(root / row["source_path"])
        assert copy.read_bytes() == (root / row["source_path"]).read_bytes()


def test_animated_and_cmyk_sources_give_rgb_copies_of_the_first_frame_with_notes(tmp_path):
    rows = []
    for index in range(40):
        rows.append((write_image(tmp_path / "a" / f"a{index}.png", "RGB", seed=index), "a"))
    for index, suffix in enumerate([".gif", ".webp", ".jpg"] * 4):
        name = tmp_path / "b" / f"b{index}{suffix}"
        made = (
            write_cmyk_jpeg(name, seed=index)
            if suffix == ".jpg"
            else write_animated(name, frames=2, seed=index)
        )
        rows.append((made, "b"))
    table = tmp_path / "index.csv"
    pl.DataFrame(
        {
            "path": [p.relative_to(tmp_path).as_posix() for p, _ in rows],
            "label": [r for _, r in rows],
        }
    ).write_csv(table)

    _, resampled = _run(table, tmp_path / "run")

    generated = resampled.frame.filter(pl.col("is_synthetic") & (pl.col("label") == "b"))
    kinds = {
        Path(source).suffix: Path(path).suffix
        for source, path in generated.select("source_path", "path").iter_rows()
    }
    # GIF is no output format: its copies are PNG; WebP and JPEG keep theirs.
    assert kinds == {".gif": ".png", ".webp": ".webp", ".jpg": ".jpg"}
    assert set(generated["mode"]) == {"RGB"}
    notes = " | ".join(resampled.notes)
    assert "animated image: first frame used" in notes
    assert "CMYK image written as RGB" in notes
    for row in resampled.frame.filter(~pl.col("is_synthetic")).iter_rows(named=True):
        assert (tmp_path / "run" / row["path"]).read_bytes() == (
            tmp_path / row["source_path"]
        ).read_bytes()


def test_a_class_folder_of_gif_files_only_is_rebalanced_with_png_copies(tmp_path):
    # The folder scan once skipped .gif: such a class vanished from the dataset unreported.
    root = image_tree(tmp_path / "data", {"png": 16})
    for index in range(6):
        write_animated(root / "gif" / f"g{index}.gif", frames=2, seed=index)

    splits, resampled = _run(root, tmp_path / "run")

    after = Counter(resampled.frame["label"].to_list())
    assert after["gif"] == after["png"] == Counter(splits.train["label"].to_list())["png"]
    generated = resampled.frame.filter(pl.col("is_synthetic") & (pl.col("label") == "gif"))
    assert {Path(path).suffix for path in generated["path"]} == {".png"}
    assert count_tree(tmp_path / "run" / "train") == dict(after)


def test_random_state_redraws_the_copies_without_moving_images_between_splits(dataset, tmp_path):
    runs = {
        name: _run(dataset, tmp_path / name, **options)
        for name, options in (
            ("default", {}),
            ("same", {"random_state": 7}),
            ("other", {"random_state": 8}),
        )
    }

    def files(name, split):
        return {
            path.relative_to(tmp_path / name).as_posix(): hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
            for path in (tmp_path / name / split).rglob("*")
            if path.is_file()
        }

    generated = {
        name: resampled.frame.filter(pl.col("is_synthetic"))["sha256"].to_list()
        for name, (_, resampled) in runs.items()
    }
    for split in ("val", "test"):
        assert files("default", split) == files("other", split) != {}
    originals = {
        name: resampled.frame.filter(~pl.col("is_synthetic"))["path"].to_list()
        for name, (_, resampled) in runs.items()
    }
    assert originals["default"] == originals["other"]
    assert generated["default"] == generated["same"]  # the split's seed (7) is the default
    assert len(generated["default"]) == len(generated["other"]) > 0
    assert generated["default"] != generated["other"]


def test_a_generated_image_with_the_bytes_of_another_class_is_dropped_and_its_file_removed(
    tmp_path,
):
    files = []
    for name, content in [("cat_aug000.png", b"same"), ("cat_aug001.png", b"new"), ("x.png", b"o")]:
        (tmp_path / name).write_bytes(content)
        files.append(tmp_path / name)
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
    jobs = [{"label": "cat", "source_path": "cat/a.png"}] * 2 + [{"label": "dog"}]
    results = [
        {"file": str(path), "sha256": digest} for path, digest in zip(files, digests, strict=True)
    ]
    # "same" is a dog in val; "o" is a dog too, and generated as a dog: its own class.
    originals = labelled_identities(pl.Series([digests[0], digests[2]]), pl.Series(["dog", "dog"]))

    kept_jobs, kept, conflicts = drop_contradicting(jobs, results, originals=originals)

    assert [done["file"] for done in kept] == [str(files[1]), str(files[2])]
    assert [job["label"] for job in kept_jobs] == ["cat", "dog"]
    assert not files[0].exists() and files[1].exists()
    assert conflicts.as_manifest()["per_class"] == {
        "cat": {"found": 1, "replaced": 0, "dropped": 1}
    }

"""The whole flow on a tiny image tree, under the session-wide Prefect test server."""

import json
import os
import re
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import yaml

from rebalance.cli import main
from rebalance.config import load_config
from tests.image_helpers import count_tree, image_tree, write_image, write_rotated_jpeg

pytestmark = pytest.mark.flow


def _write_config(folder: Path, source: str, **overrides) -> Path:
    config = {
        "name": "pics",
        "modality": "image",
        "source": source,
        "output": str(folder / "out"),
        "retries": 0,
        "split": {"fractions": {"train": 0.5, "val": 0.25, "test": 0.25}, "seed": 3},
        "rebalance": {"shard_size": 8},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def image_run(prefect_harness, tmp_path_factory):
    """One run with gray/RGB/RGBA/16-bit images, an EXIF-rotated JPEG and a skipped bad file."""
    from flows.rebalance_flow import rebalance_dataset

    folder = tmp_path_factory.mktemp("pics")
    root = image_tree(folder / "data", {"cats": 16, "dogs": 6}, kinds=("L", "RGB", "RGBA", "I;16"))
    write_rotated_jpeg(root / "dogs" / "turned.jpg")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    config = load_config(_write_config(folder, "data", validation={"bad_files": "skip"}, retries=1))
    run_dir = Path(rebalance_dataset(config))
    return config, run_dir


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_output_trees_load_with_a_directory_walking_loader(image_run):
    _, run_dir = image_run
    manifest = _manifest(run_dir)

    for split in ("train", "val", "test"):
        counts = count_tree(run_dir / split)
        index = pl.read_parquet(run_dir / f"{split}.parquet")
        assert counts == dict(Counter(index["label"].to_list()))
    assert count_tree(run_dir / "train") == manifest["counts"]["after"]["train"]
    assert len(set(manifest["counts"]["after"]["train"].values())) == 1


def test_manifest_lists_image_facts_pipeline_and_files(image_run):
    _, run_dir = image_run
    manifest = _manifest(run_dir)

    assert manifest["modality"] == "image"
    assert manifest["validation"]["bad_files"] == [
        {"path": "cats/broken.png", "problem": manifest["validation"]["bad_files"][0]["problem"]}
    ]
    assert manifest["validation"]["exif_rotated"] == 1
    assert manifest["rebalance"]["sampler"] == "albumentations"
    assert manifest["rebalance"]["pipeline_file"] == "augmentations.yaml"
    assert manifest["rebalance"]["shards"] == -(-manifest["rebalance"]["generated"] // 8)
    assert {
        "train.parquet",
        "val.parquet",
        "test.parquet",
        "augmentations.yaml",
        "contact_sheet.png",
        "report.md",
        "class_weights.json",
    } <= set(manifest["files"])
    weights = json.loads((run_dir / "class_weights.json").read_text())
    assert weights["classes"] == ["cats", "dogs"]
    assert weights["before_rebalancing"]["balanced"]["ordered"][1] > 1  # dogs, the smaller class
    assert weights["as_published"]["balanced"]["ordered"] == [1.0, 1.0]


def test_report_shows_checks_augmentation_and_contact_sheet(image_run):
    _, run_dir = image_run
    report = (run_dir / "report.md").read_text()

    assert "## Image checks" in report
    assert "| `cats/broken.png` |" in report
    assert "## Augmentation" in report
    assert "![originals beside augmented copies](contact_sheet.png)" in report


def test_progress_and_contact_sheet_artifacts_are_published(image_run):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["pics-augment-progress", "pics-contact-sheet"])
            )
        )

    by_key = {artifact.key: artifact for artifact in artifacts}
    assert float(by_key["pics-augment-progress"].data) == 100.0
    assert "data:image/png;base64," in by_key["pics-contact-sheet"].data


def test_every_markdown_artifact_of_the_run_carries_its_images_and_no_relative_link(image_run):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from tasks.core.artifacts import png_data_uri

    _, run_dir = image_run
    flow_run_id = _manifest(run_dir)["prefect"]["flow_run_id"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )

    markdown = {a.key: a.data for a in artifacts if a.type == "markdown"}
    assert {"pics-balance", "pics-contact-sheet", "pics-drift"} <= set(markdown)
    balance = markdown["pics-balance"]
    # The UI has no run folder beside an artifact: images inline, paths as text.
    assert (
        f"![originals beside augmented copies]({png_data_uri(run_dir / 'contact_sheet.png')})"
        in (balance)
    )
    assert f"]({png_data_uri(run_dir / 'balance.png')})" in balance
    assert str((run_dir.parent / "data_docs").resolve()) in balance
    for key, data in markdown.items():
        assert re.findall(r"\]\((?!data:image/png;base64,)[^)]*\)", data) == [], key


def test_rerun_is_byte_identical(image_run):
    from flows.rebalance_flow import rebalance_dataset

    config, run_dir = image_run
    again = Path(rebalance_dataset(config, force=True))

    first, second = _manifest(run_dir)["files"], _manifest(again)["files"]
    images = {name for name in first if name.startswith(("train/", "val/", "test/"))}
    assert images and {name: first[name] for name in images} == {
        name: second.get(name) for name in images
    }
    for name in ("train.parquet", "val.parquet", "test.parquet", "contact_sheet.png"):
        assert first[name] == second[name], name


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _tree(folder: Path) -> Path:
    return image_tree(folder / "data", {"a": 5, "b": 3})


BAD_INPUTS = [
    (
        "corrupt file",
        lambda f: _truncate(write_image(_tree(f) / "a" / "bad.png", "RGB", size=(30, 30))),
        {},
        r"1 unusable image file\(s\) .*a/bad.png: corrupt or truncated.*bad_files: skip",
    ),
    (
        "too many pixels",
        lambda f: write_image(_tree(f) / "b" / "huge.png", size=(64, 64)),
        {"validation": {"max_pixels": 1000}},
        r"b/huge.png: 64×64 = 4,096 pixels, above validation.max_pixels 1,000",
    ),
    (
        "escaping path",
        lambda f: (
            _tree(f),
            pl.DataFrame({"path": ["a/img000.png", "../x.png"], "label": ["a", "b"]}).write_csv(
                f / "data" / "index.csv"
            ),
        ),
        {"source": "data/index.csv"},
        r"image path '../x.png' resolves to .*outside the dataset root",
    ),
    (
        "class folder of files the scan skips",
        lambda f: (_tree(f) / "c").mkdir() or (f / "data" / "c" / "scan.pdf").write_text("x"),
        {},
        r"class folder 'c' \(.*/c: skipped other extension \(\.pdf\) 1\) has no usable image",
    ),
    (
        "unknown transform",
        _tree,
        {"rebalance": {"augmentations": ["Rotatte"]}},
        r"'Rotatte' is not an albumentations transform",
    ),
]


@pytest.mark.parametrize(
    ("setup", "overrides", "expected"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_image_input_gets_one_clear_line_and_leaves_no_run_folder(
    prefect_harness, tmp_path, capsys, setup, overrides, expected
):
    setup(tmp_path)
    config_path = _write_config(tmp_path, overrides.pop("source", "data"), **overrides)

    status = main(["run", str(config_path)])

    stderr = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert stderr[-1].startswith("rebalance: ")
    assert re.search(expected, stderr[-1]), stderr[-1]
    out = tmp_path / "out"
    # No run folder; the dataset's Data Docs may list a validation that stopped the run.
    assert (
        not out.exists()
        or [p for p in out.rglob("*") if p.is_file() and "data_docs" not in p.parts] == []
    )
    assert os.listdir(tmp_path / "data")  # the dataset itself is untouched


def _image_files(run_dir: Path) -> dict[str, str]:
    files = _manifest(run_dir)["files"]
    return {name: digest for name, digest in files.items() if name.startswith("train/")}


@pytest.mark.slow  # starts two Dask worker processes (each imports Prefect): ~15 s
def test_dask_local_cluster_run_is_byte_identical_to_the_thread_run(image_run):
    from flows.rebalance_flow import rebalance_dataset
    from rebalance.config import RunnerConfig

    config, run_dir = image_run
    dask_config = config.model_copy(update={"runner": RunnerConfig(kind="dask", workers=2)})

    again = Path(rebalance_dataset(dask_config))

    first, second = _manifest(run_dir)["files"], _manifest(again)["files"]
    assert len(_image_files(run_dir)) > 10
    assert _image_files(again) == _image_files(run_dir)
    for name in ("train.parquet", "val.parquet", "test.parquet", "contact_sheet.png"):
        assert first[name] == second[name], name


@pytest.mark.slow  # a cluster of two worker processes and five shards: ~25 s
def test_shards_spread_over_the_workers_of_a_cluster_given_by_address(image_run):
    from distributed import Client, LocalCluster, get_task_stream

    from flows.rebalance_flow import rebalance_dataset
    from rebalance.config import RunnerConfig

    config, run_dir = image_run
    # One image per shard, so there are more shards than workers (and sharding must not
    # change any image).
    rebalance = config.rebalance.model_copy(update={"shard_size": 1})
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        runner = RunnerConfig(kind="dask", address=cluster.scheduler_address)
        with get_task_stream(client) as stream:
            again = Path(
                rebalance_dataset(
                    config.model_copy(update={"runner": runner, "rebalance": rebalance})
                )
            )

    workers = {record["worker"] for record in stream.data if "augment" in record["key"]}
    assert len(workers) == 2
    assert _image_files(again) == _image_files(run_dir)

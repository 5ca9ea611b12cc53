"""The whole flow on texts with tiny local MarianMT models, under the shared Prefect server."""

import hashlib
import json
import os
import re
from pathlib import Path

import polars as pl
import pytest
import yaml

from rebalance.cli import main
from rebalance.config import load_config

pytestmark = pytest.mark.flow

SHARED = "REFUND please, order 5 never came"


def _tickets() -> list[dict]:
    rows = [
        {"text": f"order {i} has not arrived\nsince monday", "label": "order"} for i in range(60)
    ]
    rows += [
        {
            "text": f"please refund order {i} 👍🏽" if i % 2 else f"استرداد المبلغ {i}",
            "label": "refund",
        }
        for i in range(12)
    ]
    rows += [{"text": f"someone logged in from country {i}", "label": "security"} for i in range(9)]
    rows += [
        {"text": SHARED, "label": "order"},
        {"text": "refund please,  order 5 never came\n", "label": "refund"},
        {"text": " \n\t ", "label": "refund"},
        {"text": 404, "label": "order"},
    ]
    return [{"ticket_id": f"T{index}", **row} for index, row in enumerate(rows)]


def _config(folder: Path, **overrides) -> Path:
    config = {
        "name": "tickets",
        "modality": "text",
        "source": "tickets.jsonl",
        "label": "label",
        "id_column": "ticket_id",
        "output": str(folder / "out"),
        "retries": 0,
        **overrides,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _write(folder: Path, rows: list[dict]) -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    (folder / "tickets.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def text_run(prefect_harness, marian_template, tmp_path_factory):
    from flows.rebalance_flow import rebalance_dataset

    folder = tmp_path_factory.mktemp("tickets")
    rows = _tickets()
    _write(folder, rows)
    rebalance = {
        "model": marian_template,
        "target": 30,
        "samples_per_pivot": 6,
        "max_new_tokens": 8,
        "num_threads": 1,
        "min_length_ratio": 0.0,
        "max_length_ratio": 1000.0,
        "cache_dir": str(folder / "cache"),
    }
    config = load_config(
        _config(folder, validation={"bad_text_policy": "drop"}, rebalance=rebalance)
    )
    run_dir = rebalance_dataset(config)
    return rows, folder, Path(run_dir)


def _read(run_dir: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(run_dir / f"{name}.parquet")


def test_minorities_reach_the_target_from_training_texts_only(text_run):
    _, folder, run_dir = text_run
    train, val, test = (_read(run_dir, name) for name in ("train", "val", "test"))
    synthetic = train.filter(pl.col("is_synthetic"))
    originals = train.filter(~pl.col("is_synthetic"))

    counts = dict(train.group_by("label").len().iter_rows())
    assert counts["refund"] == counts["security"] == 30
    assert counts["order"] == originals.filter(pl.col("label") == "order").height
    assert set(synthetic["source_row_id"]) <= set(originals["ticket_id"])
    held_out = set(val["ticket_id"]) | set(test["ticket_id"])
    assert not set(synthetic["source_row_id"]) & held_out
    # Not one val or test text was ever sent to a translator.
    cached = set()
    for part in (folder / "cache").rglob("*.jsonl"):
        cached |= {json.loads(line)["key"].split(":")[0] for line in part.read_text().splitlines()}
    for text in pl.concat([val, test])["text"]:
        assert hashlib.sha256(text.encode()).hexdigest() not in cached
    assert train.columns == [
        "ticket_id",
        "text",
        "label",
        "is_synthetic",
        "source_row_id",
        "pivot",
        "model",
    ]


def test_rerun_without_the_cache_is_byte_identical(text_run):
    """Sampled back-translation seeded per batch: a forced rerun that translates everything
    again (a fresh cache folder) writes the same files."""
    from flows.rebalance_flow import rebalance_dataset

    _, folder, run_dir = text_run
    config = load_config(folder / "config.yaml")
    fresh_cache = config.rebalance.model_copy(update={"cache_dir": folder / "cache-rerun"})

    again = Path(
        rebalance_dataset(config.model_copy(update={"rebalance": fresh_cache}), force=True)
    )

    assert again != run_dir
    assert any((folder / "cache-rerun").iterdir())  # it really translated again
    first = json.loads((run_dir / "manifest.json").read_text())["files"]
    second = json.loads((again / "manifest.json").read_text())["files"]
    for name in ("train.parquet", "val.parquet", "test.parquet", "class_weights.json"):
        assert first[name] == second[name], name


def test_val_and_test_are_the_input_rows_byte_for_byte(text_run):
    rows, _, run_dir = text_run
    by_id = {row["ticket_id"]: row for row in rows}

    for name in ("val", "test"):
        part = _read(run_dir, name)
        assert part.columns == ["ticket_id", "text", "label"]
        for ticket_id, text, label in part.iter_rows():
            assert by_id[ticket_id]["text"] == text
            assert by_id[ticket_id]["label"] == label


def test_duplicate_texts_across_classes_stay_in_one_split(text_run):
    _, _, run_dir = text_run
    splits = {name: set(_read(run_dir, name)["ticket_id"]) for name in ("train", "val", "test")}
    shared = {"T81", "T82"}

    assert sum(1 for ids in splits.values() if ids & shared) == 1


def test_manifest_report_and_class_weights_describe_the_run(text_run):
    _, _, run_dir = text_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    weights = json.loads((run_dir / "class_weights.json").read_text())
    report = (run_dir / "report.md").read_text()

    assert manifest["modality"] == "text"
    assert manifest["validation"]["bad_texts_dropped"] == {
        "empty or whitespace-only": 1,
        "not a string (int 404)": 1,
    }
    assert manifest["validation"]["duplicate_texts_across_classes"] == 1
    assert manifest["rows"]["dropped"] == 2
    per_class = manifest["rebalance"]["per_class"]
    assert per_class["refund"]["accepted"] == per_class["refund"]["needed"] > 0
    assert manifest["rebalance"]["texts_translated"] > 0
    assert "class_weights.json" in manifest["files"]
    assert weights["classes"] == ["order", "refund", "security"]
    for key, counts in (
        ("before_rebalancing", manifest["counts"]["before"]["train"]),
        ("as_published", manifest["counts"]["after"]["train"]),
    ):
        assert weights[key]["counts"] == [counts[name] for name in weights["classes"]]
        assert weights[key]["balanced"]["ordered"] == [
            weights[key]["balanced"]["by_label"][name] for name in weights["classes"]
        ]
    assert (
        manifest["class_weights"]["as_published"]["balanced"]["by_label"]
        == (weights["as_published"]["balanced"]["by_label"])
    )
    assert "### As published" in report
    assert "- bad_texts_dropped: empty or whitespace-only: 1; not a string (int 404): 1" in report
    assert "## Paraphrasing" in report
    assert "back_translation (MarianMT)" in report
    assert re.search(r"\| refund \| \d+ \| \d+ \| \d+ \| \d+% \|", report)
    assert "### Examples (source → paraphrase)" in report


@pytest.mark.parametrize(
    ("rows", "overrides", "expected"),
    [
        (
            [*_tickets()[:81], {"ticket_id": "X", "text": "  ", "label": "order"}],
            {},
            r"1 unusable text\(s\) in column 'text' .*\(row X: empty or whitespace-only\)",
        ),
        (
            _tickets()[:81],
            {"rebalance": {"local_files_only": True}},
            r"cannot load translation model 'Helsinki-NLP/opus-mt-en-de' .*fallback: eda$",
        ),
    ],
    ids=["whitespace-only text", "offline model"],
)
def test_bad_input_gets_one_clear_line_and_no_run_folder(
    prefect_harness, tmp_path, capsys, rows, overrides, expected
):
    _write(tmp_path, rows)

    status = main(["run", str(_config(tmp_path, **overrides))])

    stderr = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert re.search(expected, stderr[-1]), stderr[-1]
    out = tmp_path / "out"
    # No run folder; the dataset's Data Docs may list a validation that stopped the run.
    assert (
        not out.exists()
        or [p for p in out.rglob("*") if p.is_file() and "data_docs" not in p.parts] == []
    )
    assert not os.path.exists(out / "tickets" / "latest")


@pytest.mark.slow  # a local cluster of two worker processes, each loading both models: ~30 s
def test_dask_local_cluster_run_is_byte_identical_to_the_thread_run(text_run):
    """Translation shards (one token batch each) on two Dask workers: sampled decoding seeded
    per batch gives the thread run's outputs byte for byte."""
    from flows.rebalance_flow import rebalance_dataset
    from rebalance.config import RunnerConfig

    _, folder, run_dir = text_run
    config = load_config(folder / "config.yaml")
    fresh_cache = config.rebalance.model_copy(update={"cache_dir": folder / "cache-dask"})
    dask_config = config.model_copy(
        update={"rebalance": fresh_cache, "runner": RunnerConfig(kind="dask", workers=2)}
    )

    again = Path(rebalance_dataset(dask_config, force=True))

    first = json.loads((run_dir / "manifest.json").read_text())
    second = json.loads((again / "manifest.json").read_text())
    assert second["rebalance"]["translate_shards"] > 2
    assert first["rebalance"]["translate_shards"] == 0  # threads: in the flow's process
    assert second["rebalance"]["texts_translated"] == first["rebalance"]["texts_translated"]
    for name in ("train.parquet", "val.parquet", "test.parquet", "class_weights.json"):
        assert first["files"][name] == second["files"][name], name

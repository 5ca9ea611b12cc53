"""An example training job downstream of a rebalance run, started by the ready event.

It only composes tasks; the work is in `tasks/training.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.report import artifact_key
from tasks.training import (
    check_outputs,
    compare_models,
    read_manifest,
    render_counts,
    render_scores,
)


@task(name="check-outputs", cache_policy=NO_CACHE)
def check_outputs_task(run_folder: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Every listed file matches its sha256 and every split loads."""
    return check_outputs(run_folder, manifest)


@task(name="compare-models", cache_policy=NO_CACHE)
def compare_models_task(
    run_folder: str, manifest: dict[str, Any], use_class_weights: bool, seed: int
) -> list[dict[str, Any]]:
    """The same classifier on original vs rebalanced training rows, scored on test."""
    scores = compare_models(run_folder, manifest, use_class_weights=use_class_weights, seed=seed)
    create_markdown_artifact(
        key=artifact_key(manifest["name"], "training"),
        markdown=render_scores(manifest["name"], scores),
        description="Balanced accuracy, macro F1 and recall per class on the test split",
    )
    rows = [
        {
            "model": score.model,
            "train_rows": score.train_rows,
            "balanced_accuracy": round(score.balanced_accuracy, 4),
            "macro_f1": round(score.macro_f1, 4),
            **{f"recall_{name}": round(value, 4) for name, value in score.recall.items()},
        }
        for score in scores
    ]
    create_table_artifact(key=artifact_key(manifest["name"], "training-scores"), table=rows)
    return rows


@flow(name="train-classifier", flow_run_name="train-{run_id}")
def train_classifier(
    run_folder: str,
    manifest: str | None = None,
    modality: Literal["tabular", "image", "text"] | None = None,
    run_id: str | None = None,
    use_class_weights: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on a published rebalance run (tables) or check its outputs load (images, text).

    Args:
        run_folder: The run's output folder (the ready event's `run_folder`).
        manifest: Its manifest.json; `<run_folder>/manifest.json` when empty.
        modality: The run's modality; read from the manifest when empty.
        run_id: The run's id, for the flow run's name.
        use_class_weights: Also train on the original rows with the manifest's balanced
            class weights.
        seed: The classifier's random_state.
    """
    logger = get_run_logger()
    loaded = read_manifest(manifest or Path(run_folder) / "manifest.json")
    modality = modality or loaded["modality"]
    checked = check_outputs_task(run_folder, loaded)
    logger.info("%s run %s: %s", modality, loaded["run_id"], checked["splits"])
    if modality != "tabular":
        create_markdown_artifact(
            key=artifact_key(loaded["name"], "training"),
            markdown=render_counts(loaded["name"], checked),
            description="The run's outputs load; rows and classes per split",
        )
        return {"modality": modality, "checked": checked}
    scores = compare_models_task(run_folder, loaded, use_class_weights, seed)
    for row in scores:
        logger.info("%s", row)
    return {"modality": modality, "checked": checked, "scores": scores}

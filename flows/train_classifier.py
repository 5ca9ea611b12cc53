"""An example training job downstream of a rebalance run, started by the ready event.

It only composes the tasks of `tasks/steps.py`; the work is in `tasks/run/training.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger

from tasks import steps
from tasks.run.manifest import read_manifest


@flow(name="train-classifier", flow_run_name="train-{run_id}")
def train_classifier(
    run_folder: str,
    manifest: str | None = None,
    modality: Literal["tabular", "image", "text"] | None = None,
    run_id: str | None = None,
    use_class_weights: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on a published rebalance run (tables) or check its outputs load (images, text).

    Args:
        run_folder: The run's output folder (the ready event's `run_folder`).
        manifest: Its manifest.json; `<run_folder>/manifest.json` when empty.
        modality: The run's modality; read from the manifest when empty.
        run_id: The run's id, for the flow run's name.
        use_class_weights: Also train on the original rows with `class_weight="balanced"`
            (the alternative to resampling the run's evaluation compares too).
        seed: The models' random_state.
    """
    logger = get_run_logger()
    loaded = read_manifest(manifest or Path(run_folder) / "manifest.json")
    modality = modality or loaded["modality"]
    checked = steps.check_outputs(run_folder, loaded)
    logger.info("%s run %s: %s", modality, loaded["run_id"], checked["splits"])
    # The example models are a linear and a boosted classifier on table columns; for images
    # and text the job shows that the outputs load (a real job would train its own there).
    if modality != "tabular":
        steps.publish_counts(loaded, checked)
        return {"modality": modality, "checked": checked}
    scores = steps.compare_models(run_folder, loaded, use_class_weights, seed)
    for row in scores:
        logger.info("%s", row)
    return {"modality": modality, "checked": checked, "scores": scores}

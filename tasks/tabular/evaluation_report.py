"""The cross-validated comparison in report.md and the Prefect artifact: markdown and a chart.

Both are rendered from the manifest's `evaluation` entry (`Evaluation.as_manifest()`), so
the report of a run is rebuilt from manifest.json alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasks.core.markdown import render
from tasks.run.classifiers import METRIC_TITLES, MODEL_TITLES

TEMPLATE = Path(__file__).with_name("templates") / "evaluation.md.j2"
CHART_FILE = "evaluation.png"
MISSING = "—"


def render_evaluation(entry: Mapping[str, Any], /, *, chart: str | None) -> str:
    """The report section: what was compared and how, one table per model (each metric as
    mean ± std per arm, and the arm's verdict), and the leaderboard when a sampler was
    picked. `chart` is the chart's link: a file name, or a data URI for Prefect."""
    return render(
        TEMPLATE,
        skipped=entry["skipped"],
        folds=entry["folds"],
        rows={
            **entry["rows"],
            "used": f"{entry['rows']['used']:,}",
            "available": f"{entry['rows']['available']:,}",
        },
        seconds=entry["seconds"],
        budget=f"{entry['time_budget_seconds']:g}",
        average_precision=entry["average_precision"],
        minority=entry["minority"],
        baseline=entry["baseline"],
        test=entry["test"],
        tables=[
            {
                "title": MODEL_TITLES.get(model, model).capitalize(),
                "rows": _table_rows(entry, model),
            }
            for model in entry["models"]
        ],
        chart=chart,
        notes=entry["notes"],
        pick=_pick(entry),
    )


def results_by_model(entry: Mapping[str, Any], /) -> dict[str, dict[str, Mapping[str, Any]]]:
    """model → arm → its result entry, in the entry's order."""
    found: dict[str, dict[str, Mapping[str, Any]]] = {model: {} for model in entry["models"]}
    for result in entry["results"]:
        found[result["model"]][result["arm"]] = result
    return found


def render_evaluation_chart(entry: Mapping[str, Any], path: Path, /) -> None:
    """A PNG: one panel per metric, arms along the axis, one series per model with error
    bars of mean ± std. Byte-identical for the same entry."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_model = results_by_model(entry)
    arms = entry["arms"]
    metrics = entry["metrics"]
    models = entry["models"]
    width = 0.7 / max(len(models), 1)
    columns = 2
    grid = (len(metrics) + columns - 1) // columns
    figure, axes = plt.subplots(
        grid, columns, figsize=(3 + 2.2 * len(arms), 3 * grid + 0.6), dpi=100, squeeze=False
    )
    panels = list(axes.flat)
    for panel in panels[len(metrics) :]:
        panel.set_visible(False)
    for panel, metric in zip(panels, metrics, strict=False):
        for offset, model in enumerate(models):
            positions, means, spreads = [], [], []
            for index, arm in enumerate(arms):
                found = by_model[model].get(arm, {}).get("metrics", {}).get(metric)
                if not found or found["mean"] is None:
                    continue  # a failed arm has no point
                positions.append(index + (offset - (len(models) - 1) / 2) * width)
                means.append(found["mean"])
                spreads.append(found["std"] or 0.0)
            panel.errorbar(
                positions, means, yerr=spreads, fmt="o", capsize=3, label=MODEL_TITLES.get(model)
            )
        panel.set_title(METRIC_TITLES[metric])
        panel.set_xticks(range(len(arms)), arms, rotation=30, ha="right")
        panel.set_xlim(-0.5, len(arms) - 0.5)
        panel.grid(axis="y", alpha=0.3)
    for row in axes:
        row[0].set_ylabel("mean ± std over folds")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    figure.suptitle(f"Cross-validated scores, {entry['folds']['total']} folds")
    figure.tight_layout()
    # A fixed Software tag keeps the PNG bytes identical across reruns.
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)


def _table_rows(entry: Mapping[str, Any], model: str) -> list[dict[str, Any]]:
    results = results_by_model(entry)[model]
    rows = []
    for arm in entry["arms"]:
        result = results.get(arm)
        if result is None:
            continue
        if result["failed"]:
            cells = [MISSING] * len(entry["metrics"])
            judged = f"failed ({result['failed']})"
        else:
            cells = [_mean_std(result["metrics"][metric]) for metric in entry["metrics"]]
            judged = "baseline" if arm == entry["baseline"] else (result["verdict"] or MISSING)
        rows.append({"arm": arm, "cells": cells, "verdict": judged})
    return rows


def _pick(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    found = entry.get("pick")
    if not found:
        return None
    rows = []
    for candidate in found["leaderboard"]:
        if candidate["failed"]:
            score, verdicts = MISSING, f"failed ({candidate['failed']})"
        else:
            score = _mean_std({"mean": candidate["score"], "std": candidate["spread"]})
            baseline = candidate["name"] == entry["baseline"]
            verdicts = "; ".join(
                f"{MODEL_TITLES.get(model, model)}: "
                + ("baseline" if baseline else (verdict or MISSING))
                for model, verdict in candidate["verdicts"].items()
            )
        rows.append(
            {
                "name": candidate["name"],
                "winner": candidate["name"] == found["winner"],
                "score": score,
                "verdicts": verdicts,
            }
        )
    return {
        "winner": found["winner"],
        "reason": found["reason"],
        "metric": METRIC_TITLES.get(found["metric"], found["metric"]),
        "rows": rows,
    }


def _mean_std(found: Mapping[str, Any]) -> str:
    if found.get("mean") is None:
        return MISSING
    spread = found.get("std")
    return f"{found['mean']:.3f}" + ("" if spread is None else f" ± {spread:.3f}")

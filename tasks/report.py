"""The balance report: markdown for people, a chart image, and Prefect artifacts."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rebalance.config import SPLITS

CHART_FILE = "balance.png"
BAR_WIDTH = 24


def artifact_key(name: str, suffix: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dataset"
    return f"{slug}-{suffix}"


def imbalance_ratio(counts: Mapping[str, int], /) -> float:
    """Largest class count over smallest (1.0 is perfectly balanced)."""
    present = [count for count in counts.values() if count > 0]
    return max(present) / min(present) if present else float("nan")


def count_rows(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per class: counts per split before, and train after rebalancing."""
    before = manifest["counts"]["before"]
    after = manifest["counts"]["after"]["train"]
    classes = list(dict.fromkeys([*before["train"], *after]))
    return [
        {
            "class": name,
            "train_before": before["train"].get(name, 0),
            "train_after": after.get(name, 0),
            "val": before["val"].get(name, 0),
            "test": before["test"].get(name, 0),
        }
        for name in classes
    ]


def render_markdown(manifest: Mapping[str, Any], /, *, chart: str | None = CHART_FILE) -> str:
    """The report: counts, imbalance ratios, sampler, class weights and notes."""
    rows = count_rows(manifest)
    before = manifest["counts"]["before"]["train"]
    after = manifest["counts"]["after"]["train"]
    rebalance = manifest["rebalance"]
    lines = [
        f"# Balance report: {manifest['name']}",
        "",
        f"Run `{manifest['run_id']}` of `{manifest['source']['path']}` "
        f"({manifest['rows']['read']} rows read, {manifest['rows']['dropped']} dropped "
        "by validation).",
        "",
        *_validation_findings(manifest["validation"]),
        "| class | train before | train after | val | test |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {row['class']} | {row['train_before']} | {row['train_after']} "
            f"| {row['val']} | {row['test']} |"
            for row in rows
        ],
        "",
        f"Imbalance ratio of train (largest / smallest class): "
        f"{imbalance_ratio(before):.2f} before, {imbalance_ratio(after):.2f} after.",
        "",
        "## Train before and after",
        "",
        *text_bars(rows),
        "",
    ]
    if chart:
        lines += [f"![class counts per split]({chart})", ""]
    lines += [
        "## Sampler",
        "",
        f"- asked for: `{rebalance['requested']}`; ran: `{rebalance['sampler']}`",
        f"- params: `{rebalance['params']}`",
        *[f"- note: {note}" for note in manifest["notes"]],
        "",
        "## Class weights (from train before resampling)",
        "",
        "| class | balanced | effective number |",
        "|---|---:|---:|",
    ]
    weights = manifest["class_weights"]
    for name in weights["balanced"]["weights"]:
        lines.append(
            f"| {name} | {weights['balanced']['weights'][name]:.4f} "
            f"| {weights['effective_number']['weights'][name]:.4f} |"
        )
    lines += [
        "",
        f"Balanced: {weights['balanced']['normalisation']}. Effective number "
        f"(beta={weights['effective_number']['beta']}): "
        f"{weights['effective_number']['normalisation']}.",
        "",
        "Val and test are written exactly as split and never resampled.",
        "",
    ]
    for section in manifest.get("report_sections", []):
        lines += [section.rstrip(), ""]
    return "\n".join(lines)


def _validation_findings(validation: Mapping[str, Any]) -> list[str]:
    """A modality's own validation findings (bad texts, duplicates...), one bullet each."""
    shared = {"null_counts", "null_policy", "result", "data_docs"}
    findings = [f"- {key}: {value}" for key, value in validation.items() if key not in shared]
    return [*findings, ""] if findings else []


def text_bars(rows: list[dict[str, Any]]) -> list[str]:
    """A bar chart as a markdown table of block characters: renders wherever markdown does."""
    peak = max([row["train_before"] for row in rows] + [row["train_after"] for row in rows] + [1])
    lines = ["| class | train before | train after |", "|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['class']} | `{_bar(row['train_before'], peak)}` {row['train_before']} "
            f"| `{_bar(row['train_after'], peak)}` {row['train_after']} |"
        )
    return lines


def _bar(value: int, peak: int) -> str:
    return "█" * max(round(BAR_WIDTH * value / peak), 1 if value else 0)


def png_data_uri(path: Path, /) -> str:
    """A PNG as a data URI: the Prefect UI renders these in markdown artifacts (it strips
    inline SVG and does not render mermaid), so the artifact carries the chart itself."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_chart(manifest: Mapping[str, Any], path: Path, /) -> None:
    """Grouped bar chart of class counts: train before/after, val and test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = count_rows(manifest)
    series = {
        "train before": [row["train_before"] for row in rows],
        "train after": [row["train_after"] for row in rows],
        **{name: [row[name] for row in rows] for name in SPLITS[1:]},
    }
    width = 0.8 / len(series)
    figure, axes = plt.subplots(figsize=(max(6, 1.2 * len(rows) + 3), 4), dpi=100)
    for offset, (name, values) in enumerate(series.items()):
        positions = [index + (offset - (len(series) - 1) / 2) * width for index in range(len(rows))]
        axes.bar(positions, values, width=width, label=name)
    axes.set_xticks(range(len(rows)), [str(row["class"]) for row in rows])
    axes.set_ylabel("rows")
    axes.set_title(f"{manifest['name']}: class counts per split")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    # A fixed Software tag keeps the PNG bytes identical across reruns.
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)

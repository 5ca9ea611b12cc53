"""The balance report: markdown for people (report.md and a Prefect artifact), and a chart.

The markdown is rendered from `templates/report.md.j2`, every value escaped for markdown
(`tasks.core.markdown`); the sections a modality adds are rendered by its own templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasks.core.classes import imbalance_ratio
from tasks.core.columns import SPLITS
from tasks.core.markdown import render

CHART_FILE = "balance.png"
# Rows of the report's null table: a table of thousands of columns may have nulls in most of
# them; manifest.json (validation.null_counts) and the Data Docs have every column.
SHOWN_NULL_COLUMNS = 20
BAR_WIDTH = 24
TEMPLATE = Path(__file__).with_name("templates") / "report.md.j2"
# Manifest keys of the shared null check; the rest of `validation` is the modality's findings.
SHARED_VALIDATION_KEYS = (
    "null_counts",
    "null_policy",
    "max_drop_fraction",
    "rows_dropped_for_nulls",
    "result",
    "data_docs",
    "data_docs_page",
    "expectations",
)
# The manifest's two class-weight sets, by key, with their headings in the report.
WEIGHT_SETS = {"before_rebalancing": "Before rebalancing", "as_published": "As published"}


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


def null_rows(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The null check by column: the columns with nulls (most first, at most
    `SHOWN_NULL_COLUMNS`; `more` counts the others) with their counts and shares of the rows
    read, how many columns were checked, and the rows the policy dropped."""
    validation = manifest["validation"]
    read = manifest["rows"]["read"]
    with_nulls = sorted(
        ((name, count) for name, count in validation["null_counts"].items() if count),
        key=lambda item: -item[1],
    )
    dropped = validation["rows_dropped_for_nulls"]
    return {
        "columns": [
            {"name": name, "nulls": count, "share": count / read if read else 0.0}
            for name, count in with_nulls[:SHOWN_NULL_COLUMNS]
        ],
        "more": max(0, len(with_nulls) - SHOWN_NULL_COLUMNS),
        "checked": len(validation["null_counts"]),
        "rows_read": read,
        "policy": validation["null_policy"],
        "dropped": dropped,
        "dropped_share": dropped / read if read else 0.0,
        "max_drop_fraction": validation["max_drop_fraction"],
    }


def render_markdown(manifest: Mapping[str, Any], /, *, chart: str | None = CHART_FILE) -> str:
    """The report: counts, imbalance ratios, sampler, class weights, notes and the modality's
    sections; `chart` is the image's link (a file name, or a data URI for Prefect)."""
    rows = count_rows(manifest)
    weights = manifest["class_weights"]
    rebalance = manifest["rebalance"]
    validation = manifest["validation"]
    return render(
        TEMPLATE,
        name=manifest["name"],
        run_id=manifest["run_id"],
        source=manifest["source"]["path"],
        rows_read=manifest["rows"]["read"],
        rows_dropped=manifest["rows"]["dropped"],
        findings=[
            (key, _finding(value))
            for key, value in validation.items()
            if key not in SHARED_VALIDATION_KEYS
        ],
        nulls=null_rows(manifest),
        expectations=validation.get("expectations", []),
        data_docs=validation.get("data_docs"),
        data_docs_page=validation.get("data_docs_page"),
        rows=rows,
        ratio_before=imbalance_ratio(manifest["counts"]["before"]["train"]),
        ratio_after=imbalance_ratio(manifest["counts"]["after"]["train"]),
        bars=bar_rows(rows),
        chart=chart,
        requested=rebalance["requested"],
        sampler=rebalance["sampler"],
        params=rebalance["params"],
        notes=manifest["notes"],
        conflicts=rebalance.get("conflicts"),
        weight_note=weights["note"],
        weight_sets=[
            (title, weights[key]["use_for"], weight_rows(weights, key))
            for key, title in WEIGHT_SETS.items()
        ],
        balanced_normalisation=weights["normalisation"]["balanced"],
        effective_normalisation=weights["normalisation"]["effective_number"],
        beta=weights["effective_number_beta"],
        sections=[section.rstrip() for section in manifest.get("report_sections", [])],
        split_method=manifest.get("split", {}).get("method", "stratified"),
        split_seed=manifest.get("split", {}).get("seed"),
        pinned=len(manifest.get("split", {}).get("pinned", {})),
        published=manifest.get("published", True),
    )


def _finding(value: Any, /) -> object:
    """A modality's finding on one line: a list by its length (its entries are in
    manifest.json, and the modality's own section shows the first), a mapping as
    `key: value` pairs."""
    if isinstance(value, list):
        return f"{len(value)} (each in manifest.json)"
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_finding(inner)}" for key, inner in value.items()) or "none"
    return value


def weight_rows(weights: Mapping[str, Any], key: str, /) -> list[tuple[object, int, float, float]]:
    """(class, rows, balanced, effective number) of one of the manifest's class-weight sets."""
    chosen = weights[key]
    return [
        (
            name,
            count,
            chosen["balanced"]["by_label"][str(name)],
            chosen["effective_number"]["by_label"][str(name)],
        )
        for name, count in zip(weights["classes"], chosen["counts"], strict=True)
    ]


def bar_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each class's counts with bars of block characters, a chart that renders wherever
    markdown does (the Prefect UI strips inline SVG)."""
    peak = max([row["train_before"] for row in rows] + [row["train_after"] for row in rows] + [1])
    return [
        {
            **row,
            "before_bar": _bar(row["train_before"], peak),
            "after_bar": _bar(row["train_after"], peak),
        }
        for row in rows
    ]


def _bar(value: int, peak: int) -> str:
    return "█" * max(round(BAR_WIDTH * value / peak), 1 if value else 0)


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

"""The cross-validated comparison as markdown and a chart, rendered from the manifest entry."""

from __future__ import annotations

import json

from markdown_it import MarkdownIt

from tasks.tabular.evaluation import BASELINE, CLASS_WEIGHTS, HELPS, pick
from tasks.tabular.evaluation_report import render_evaluation, render_evaluation_chart
from tests.evaluation_helpers import evaluation_with

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
SCORES = {BASELINE: (0.70, 0.02), CLASS_WEIGHTS: (0.80, 0.02), "SMOTE": "fold 2: ValueError: k"}


def _entry(**fields) -> dict:
    evaluation = evaluation_with(SCORES, verdict=HELPS, **fields)
    chosen = pick(evaluation, candidates=list(SCORES))
    # Through JSON, as the report is rendered from manifest.json.
    return json.loads(json.dumps(evaluation.as_manifest(pick=chosen)))


def test_one_table_per_model_with_mean_and_std_per_arm_and_each_verdict():
    markdown = render_evaluation(_entry(), chart="evaluation.png")

    assert markdown.count("| arm | balanced accuracy | average precision |") == 2
    assert "### Logistic regression" in markdown and "### Gradient boosting" in markdown
    assert (
        "| no resampling | 0.700 ± 0.020 | 0.700 ± 0.020 | 0.700 ± 0.020 | 0.700 ± 0.020 | "
        "baseline |" in markdown
    )
    weighted = "| class weights |" + " 0.800 ± 0.020 |" * 4 + " helps |"
    assert weighted in markdown
    assert "| SMOTE | — | — | — | — | failed (fold 2: ValueError: k) |" in markdown
    assert "![cross-validated scores per arm, mean ± std](evaluation.png)" in markdown
    html = GFM.render(markdown)
    cells = {row.count("<td") for row in html.split("<tr>")[1:] if "<td" in row}
    assert cells == {6, 3}  # the models' tables and the leaderboard keep their columns


def test_what_was_compared_and_how_folds_repeats_rows_and_subsampling():
    entry = _entry(
        n_splits=5, n_repeats=3, repeats_run=2, rows_available=50_000, rows_used=20_000,
        subsampled="50,000 rows are more than max_rows (20,000): 20,000 kept, stratified",
    )  # fmt: skip

    markdown = render_evaluation(entry, chart=None)

    assert "repeated stratified 5-fold cross-validation" in markdown
    assert "2 of 3 repeats, 10 folds" in markdown
    assert "20,000 of 50,000 rows (subsampled: 50,000 rows are more than max\\_rows" in markdown
    assert "recall of `yes`" in markdown
    assert "![" not in markdown


def test_the_leaderboard_and_the_reason_show_when_a_sampler_was_picked():
    markdown = render_evaluation(_entry(), chart=None)

    assert "Chose `class weights`: class weights scores 0.800 ± 0.020 balanced accuracy" in markdown
    assert "| class weights (chosen) | 0.800 ± 0.020 | logistic regression: helps;" in markdown
    assert "| SMOTE | — | failed (fold 2: ValueError: k) |" in markdown
    assert "| no resampling | 0.700 ± 0.020 | logistic regression: baseline;" in markdown


def test_without_a_pick_there_is_no_leaderboard():
    entry = evaluation_with(SCORES).as_manifest()

    assert "Sampler choice" not in render_evaluation(entry, chart=None)


def test_a_skipped_evaluation_says_why():
    entry = evaluation_with({}, skipped="class 'yes' has 1 training row").as_manifest()

    markdown = render_evaluation(entry, chart=None)

    assert "Not estimated: class 'yes' has 1 training row." in markdown
    assert "| arm |" not in markdown


def test_a_minority_class_named_like_markdown_stays_text():
    entry = _entry(minority="a|b <img src=x>")

    html = GFM.render(render_evaluation(entry, chart=None))

    assert "<img" not in html
    assert "a|b &lt;img src=x&gt;" in html


def test_the_chart_is_a_png_with_the_same_bytes_on_a_rerun(tmp_path):
    entry = _entry()

    render_evaluation_chart(entry, tmp_path / "first.png")
    render_evaluation_chart(entry, tmp_path / "second.png")

    first = (tmp_path / "first.png").read_bytes()
    assert first.startswith(b"\x89PNG")
    assert first == (tmp_path / "second.png").read_bytes()
    assert b"Software" not in first

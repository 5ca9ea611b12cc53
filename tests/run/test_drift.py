"""The drift guard: a run's input profile, and each check against the profile of `latest`."""

import math
from itertools import pairwise

import numpy as np
import polars as pl
import pytest
from markdown_it import MarkdownIt

from rebalance.config.common import DriftConfig
from tasks.core.columns import Columns
from tasks.run import profile as profiles
from tasks.run.drift import (
    SHOWN_FINDINGS,
    Drift,
    Finding,
    compare_profiles,
    drift_since_latest,
    psi,
    render_drift,
    total_variation,
)
from tasks.run.profile import bin_counts, profile_frame, write_profile

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
BASELINE = "20261201T023000Z-aaaaaa"


def _profile(
    *,
    rows=100,
    schema=None,
    classes=None,
    null_rates=None,
    numeric=None,
):
    return {
        "version": 1,
        "rows": rows,
        "rows_read": rows,
        "schema": schema or {"x": "Float64", "y": "String"},
        "label": "y",
        "class_counts": classes or {"a": 50, "b": 50},
        "null_rates": null_rates or {"x": 0.0, "y": 0.0},
        "numeric": numeric or {},
    }


def _drift(config=None, *, now, before, rebinned=None):
    return compare_profiles(
        now,
        before,
        baseline_id=BASELINE,
        rebinned=rebinned or {},
        config=config or DriftConfig(),
    )


def _config(**checks):
    return DriftConfig.model_validate(checks)


def _only(drift: Drift, check: str):
    found = [finding for finding in drift.findings if finding.check == check]
    assert len(found) == 1, drift.findings
    return found[0]


# ---- the profile -------------------------------------------------------------------------------


def test_the_profile_records_schema_rows_classes_null_rates_and_numeric_bins():
    frame = pl.DataFrame(
        {
            "id": list(range(10)),
            "x": [float(value) for value in range(1, 11)],
            "code": [1, 2] * 5,
            "word": ["p", "q"] * 5,
            "y": ["a"] * 7 + ["b"] * 3,
        }
    )
    columns = Columns(
        label="y", features=("x", "code", "word"), id_column="id", categorical=("code",)
    )

    profile = profile_frame(
        frame, columns=columns, null_counts={"x": 3, "word": 0}, rows_read=12, bins=5
    )

    assert profile["version"] == 1
    assert profile["rows"] == 10
    assert profile["rows_read"] == 12
    assert profile["schema"] == {
        "id": "Int64",
        "x": "Float64",
        "code": "Int64",
        "word": "String",
        "y": "String",
    }
    assert profile["class_counts"] == {"a": 7, "b": 3}
    assert profile["null_rates"] == {"x": 0.25, "word": 0.0}
    # Only x: the id, a declared categorical and a string are no numeric features.
    assert list(profile["numeric"]) == ["x"]
    assert profile["numeric"]["x"]["edges"] == pytest.approx([2.8, 4.6, 6.4, 8.2])
    assert profile["numeric"]["x"]["counts"] == [2, 2, 2, 2, 2]
    assert profile["numeric"]["x"]["mean"] == 5.5


def test_a_value_on_an_edge_counts_in_the_bin_below_and_nulls_and_nan_in_none():
    frame = pl.DataFrame({"x": [1.0, 2.0, 2.0, 3.0, None, float("nan")]})

    binned = bin_counts(frame, {"x": [2.0]})

    assert binned["x"]["counts"] == [3, 1]
    assert binned["x"]["mean"] == 2.0


def test_bin_counts_match_a_bin_by_bin_count_over_batches_with_ties_infinities_and_gaps():
    rng = np.random.default_rng(3)
    # Integer-valued floats put many values exactly on the edges; infinities fall in the
    # outer bins; nulls and NaN in none. Batches of 97 rows split every run of ties.
    x = rng.integers(-3, 4, 1000).astype(float)
    x[rng.choice(1000, 40, replace=False)] = np.nan
    x[:3] = [np.inf, -np.inf, np.inf]
    z = rng.normal(size=1000)
    frame = pl.DataFrame({"x": x, "z": z}).with_columns(
        pl.when(pl.int_range(pl.len()) % 11 == 0).then(None).otherwise(pl.col("z")).alias("z")
    )
    edges = {"x": [-1.0, 0.0, 2.0], "z": [-0.5, 0.25, 1.0, 1.5]}

    binned = bin_counts(frame, edges, batch_rows=97)

    for name, cut in edges.items():
        values = frame[name].drop_nulls().to_numpy()
        values = values[~np.isnan(values)]
        # Bin i holds (edge i-1, edge i]; the first and last bins are open.
        expected = [
            int(np.count_nonzero(values <= cut[0])),
            *(
                int(np.count_nonzero((values > low) & (values <= high)))
                for low, high in pairwise(cut)
            ),
            int(np.count_nonzero(values > cut[-1])),
        ]
        assert binned[name]["counts"] == expected
        assert sum(expected) == len(values)


def test_a_streamed_table_gets_the_profile_of_the_same_rows_in_memory(monkeypatch):
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {
            "x": rng.normal(size=1000),
            "n": rng.integers(0, 50, 1000),
            "y": rng.choice(["a", "b"], 1000),
        }
    )
    columns = Columns(label="y", features=("x", "n"))
    kwargs = {"columns": columns, "null_counts": {"x": 0}, "rows_read": 1000, "bins": 10}

    in_memory = profile_frame(frame, **kwargs)
    streamed = profile_frame(frame.lazy(), **kwargs)
    # Edges from every 7th row of 1000 (a sample of 143): other edges, still every row counted.
    monkeypatch.setattr(profiles, "EDGE_SAMPLE_ROWS", 150)
    sampled = profile_frame(frame.lazy(), **kwargs)

    assert streamed == in_memory
    assert sampled["numeric"]["x"]["edges"] != in_memory["numeric"]["x"]["edges"]
    assert sum(sampled["numeric"]["x"]["counts"]) == 1000
    assert sampled["numeric"]["x"]["mean"] == pytest.approx(in_memory["numeric"]["x"]["mean"])


# ---- the checks --------------------------------------------------------------------------------


def test_same_profiles_find_nothing_and_measure_zero():
    profile = _profile(numeric={"x": {"edges": [0.0], "counts": [50, 50], "mean": 0.0}})

    drift = _drift(now=profile, before=profile, rebinned={"x": [50, 50]})

    assert drift.findings == ()
    assert drift.status == "ok"
    assert drift.measured == {
        "row_count": 0.0,
        "class_priors": 0.0,
        "null_rate": {"x": 0.0, "y": 0.0},
        "distribution": {"x": 0.0},
    }
    assert drift.failure_message(artifact="t-drift") is None


@pytest.mark.parametrize(
    ("now_schema", "column", "before", "now", "words"),
    [
        ({"x": "Float64", "y": "String", "z": "Int64"}, "z", "absent", "Int64", "is new"),
        ({"y": "String"}, "x", "Float64", "absent", "is gone"),
        ({"x": "String", "y": "String"}, "x", "Float64", "String", "changed dtype"),
    ],
    ids=["added", "removed", "retyped"],
)
def test_a_column_added_removed_or_retyped_fails_naming_it_and_both_dtypes(
    now_schema, column, before, now, words
):
    drift = _drift(now=_profile(schema=now_schema), before=_profile())

    finding = _only(drift, "columns")
    assert (finding.column, finding.before, finding.now) == (column, before, now)
    assert finding.severity == "fail"
    message = drift.failure_message(artifact="t-drift")
    assert message.startswith(f"drift since run {BASELINE}: column {column!r} {words}: ")
    assert f"{before} in run {BASELINE}, {now} now" in message
    assert message.endswith("set drift.columns.severity: warn (or off)")


@pytest.mark.parametrize(("rows", "found"), [(150, False), (151, True), (50, False), (49, True)])
def test_the_row_count_fails_beyond_its_relative_threshold_and_passes_at_it(rows, found):
    drift = _drift(now=_profile(rows=rows), before=_profile(rows=100))

    assert drift.measured["row_count"] == abs(rows - 100) / 100
    assert bool(drift.failures) is found
    if found:
        message = drift.failure_message(artifact="t-drift")
        assert f"were 100 in run {BASELINE}, {rows} now" in message
        assert "raise drift.row_count.threshold (now 0.5)" in message


def test_a_warn_severity_reports_the_finding_without_failing():
    drift = _drift(
        _config(row_count={"severity": "warn"}), now=_profile(rows=300), before=_profile()
    )

    finding = _only(drift, "row_count")
    assert finding.severity == "warn"
    assert drift.status == "warn"
    assert drift.failures == []
    assert drift.failure_message(artifact="t-drift") is None


def test_an_off_check_is_neither_measured_nor_found():
    drift = _drift(
        _config(row_count={"severity": "off"}, columns={"severity": "off"}),
        now=_profile(rows=300, schema={"x": "Int64", "y": "String"}),
        before=_profile(),
    )

    assert drift.findings == ()
    assert "row_count" not in drift.measured


@pytest.mark.parametrize(
    ("classes", "found"),
    [({"a": 60, "b": 40}, False), ({"a": 61, "b": 39}, True)],
)
def test_a_prior_shift_fails_beyond_its_total_variation_and_passes_at_it(classes, found):
    drift = _drift(now=_profile(classes=classes), before=_profile())

    assert drift.measured["class_priors"] == pytest.approx(classes["a"] / 100 - 0.5)
    assert bool(drift.failures) is found
    if found:
        finding = _only(drift, "class_priors")
        assert (finding.column, finding.before, finding.now) == ("y", "50.0%", "61.0%")
        assert "class 'a' was 50.0% of the rows" in finding.message


def test_a_vanished_and_an_appeared_class_each_fail_naming_the_class():
    drift = _drift(
        _config(class_priors={"severity": "off"}),
        now=_profile(classes={"a": 50, "c": 5}),
        before=_profile(classes={"a": 50, "b": 30}),
    )

    found = {(f.column, f.before, f.now): f.message for f in drift.findings}
    assert set(found) == {("y", "30 rows", "absent"), ("y", "absent", "5 rows")}
    assert "class 'b' of label 'y' vanished: 30 rows in run" in found["y", "30 rows", "absent"]
    assert "class 'c' of label 'y' appeared" in found["y", "absent", "5 rows"]
    message = drift.failure_message(artifact="t-drift")
    assert "class 'b'" in message and "(1 more in the log and the t-drift artifact)" in message


@pytest.mark.parametrize(("rate", "found"), [(0.05, False), (0.0625, True)])
def test_a_null_rate_change_beyond_its_threshold_warns_by_default(rate, found):
    drift = _drift(now=_profile(null_rates={"x": rate, "y": 0.0}), before=_profile())

    assert drift.measured["null_rate"]["x"] == rate
    assert drift.failures == []
    assert [f.column for f in drift.findings] == (["x"] if found else [])
    if found:
        assert _only(drift, "null_rate").severity == "warn"
        assert _only(drift, "null_rate").now == "6.2%"


def test_psi_is_zero_for_equal_shares_and_the_textbook_sum_otherwise():
    assert psi([50, 50], [5, 5]) == 0.0
    expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert psi([50, 50], [80, 20]) == pytest.approx(expected)
    # An empty bin is floored, not infinite.
    assert math.isfinite(psi([50, 50], [100, 0]))


def test_total_variation_counts_a_missing_class_as_zero():
    assert total_variation({"a": 0.5, "b": 0.5}, {"a": 0.5, "c": 0.5}) == 0.5


def _published(dataset_dir, run_id, profile):
    run_dir = dataset_dir / run_id
    run_dir.mkdir(parents=True)
    if profile is not None:
        write_profile(profile, run_dir)
    (dataset_dir / "latest").symlink_to(run_id, target_is_directory=True)


def _numbers(shift: float, *, seed: int, rows: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"x": rng.normal(loc=shift, size=rows), "y": rng.choice(["a", "b"], rows)})


def _profile_of(frame: pl.DataFrame) -> dict:
    columns = Columns(label="y", features=("x",))
    return profile_frame(
        frame, columns=columns, null_counts={"x": 0}, rows_read=frame.height, bins=10
    )


@pytest.mark.parametrize(("shift", "found"), [(0.0, False), (1.0, True)])
def test_a_shifted_numeric_distribution_is_found_by_its_psi_over_latests_bins(
    tmp_path, shift, found
):
    _published(tmp_path, BASELINE, _profile_of(_numbers(0.0, seed=1)))
    frame = _numbers(shift, seed=2)
    config = _config(distribution={"severity": "fail"})

    drift = drift_since_latest(frame, _profile_of(frame), dataset_dir=tmp_path, config=config)

    index = drift.measured["distribution"]["x"]
    # Two samples of one distribution: about 9 · 2/2000 ≈ 0.01; one sd apart: about 1.
    assert (index > 0.5) if found else (index < 0.05)
    assert bool(drift.failures) is found
    if found:
        message = drift.failure_message(artifact="t-drift")
        assert "the distribution of column 'x' moved: mean " in message
        assert f"(PSI {index:.4g} > drift.distribution.threshold 0.25)" in message


def test_without_latest_there_is_nothing_to_compare(tmp_path):
    frame = _numbers(5.0, seed=0)

    drift = drift_since_latest(
        frame, _profile_of(frame), dataset_dir=tmp_path, config=DriftConfig()
    )

    assert drift.baseline is None
    assert drift.status == "not compared"
    assert "no latest" in drift.note
    assert render_drift(drift).startswith("## Drift\n\nNo run is published yet")


@pytest.mark.parametrize("old", [None, {"version": 0, "rows": 5}], ids=["none", "old version"])
def test_a_latest_without_a_profile_of_this_version_is_named_and_not_compared(tmp_path, old):
    _published(tmp_path, BASELINE, old)
    frame = _numbers(0.0, seed=0)

    drift = drift_since_latest(
        frame, _profile_of(frame), dataset_dir=tmp_path, config=DriftConfig()
    )

    assert drift.baseline is None
    assert f"Run {BASELINE} (latest) has no profile.json of this version" in drift.note


def test_the_report_section_lists_each_finding_in_one_table_row_and_the_largest_values():
    drift = _drift(
        _config(class_priors={"severity": "off"}),
        now=_profile(classes={"a": 50, "a|<b>": 5}, rows=40, null_rates={"x": 0.2, "y": 0.0}),
        before=_profile(),
    )

    markdown = render_drift(drift)
    html = GFM.render(markdown)

    assert markdown.startswith(f"## Drift since {BASELINE}\n")
    rows = [row for row in html.split("<tr>")[2:]]
    assert len(rows) == len(drift.findings) == 4  # row count, b vanished, a|<b> appeared, x nulls
    assert all(row.count("<td") == 7 for row in rows)
    assert "a|&lt;b&gt;" in html and "<b>" not in html
    assert "null rates: largest change 0.2, in column <code>x</code>" in html
    assert "relative change 0.6" in html
    assert "class 'b'" in html


def test_the_drift_table_of_a_wide_table_shows_the_failures_first_and_counts_the_rest():
    findings = tuple(
        Finding(
            check="distribution",
            column=f"c{i}",
            subject=f"column 'c{i}'",
            severity="fail" if i % 10 == 9 else "warn",
            before="-",
            now="-",
            message=f"c{i} moved",
            value=0.5,
            threshold=0.2,
        )
        for i in range(30)
    )
    drift = Drift(baseline="run-1", note="compared with run-1", findings=findings)

    rows = [line for line in render_drift(drift).splitlines() if line.startswith("| `drift.")]

    assert len(rows) == SHOWN_FINDINGS
    # c9, c19 and c29 fail: first, then the warnings in their order.
    assert [row.split(" | ")[1] for row in rows[:4]] == [
        "column 'c9'",
        "column 'c19'",
        "column 'c29'",
        "column 'c0'",
    ]
    assert f"And {30 - SHOWN_FINDINGS} more findings" in render_drift(drift)

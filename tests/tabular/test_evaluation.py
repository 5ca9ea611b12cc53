"""The cross-validated comparison of arms: folds, budget, verdicts and the pick, on tiny data."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from imblearn import FunctionSampler
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.model_selection import RepeatedStratifiedKFold

from rebalance.errors import ConfigError
from tasks.run.classifiers import METRICS
from tasks.tabular.evaluation import (
    BASELINE,
    CANNOT_TELL,
    CLASS_WEIGHTS,
    FAILED,
    HELPS,
    HURTS,
    MIXED,
    Arm,
    corrected_p_value,
    evaluate_arms,
    pick,
    stratified_subsample,
    verdict,
)
from tests.evaluation_helpers import evaluation_with

LINEAR = ("logistic_regression",)


def _table(rows: int, *, weights: float = 0.8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=rows, n_features=4, n_informative=3, n_redundant=0, weights=[weights],
        random_state=seed,
    )  # fmt: skip
    return x, np.where(y == 1, "yes", "no")


def _oversampler(labels: np.ndarray) -> RandomOverSampler:
    return RandomOverSampler(random_state=0)


ARMS = (
    Arm(BASELINE),
    Arm(CLASS_WEIGHTS, class_weight="balanced"),
    Arm("RandomOverSampler", _oversampler),
)


def test_the_sampler_sees_only_each_folds_training_rows_and_every_arm_the_same_folds():
    x, y = _table(60)
    x = np.column_stack([np.arange(60), x])  # column 0: the row's position, to recognise it
    seen: list[set[int]] = []

    class Recording(RandomOverSampler):
        def fit_resample(self, features, labels, **params):
            seen.append({int(value) for value in features[:, 0]})
            return super().fit_resample(features, labels, **params)

    arms = [Arm(BASELINE), Arm("recorded", lambda labels: Recording(random_state=0))]
    evaluation = evaluate_arms(
        x, y, arms=arms, numeric=range(5), categorical=[], models=LINEAR,
        n_splits=3, n_repeats=2, seed=4,
    )  # fmt: skip

    folds = list(RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=4).split(x, y))
    assert seen == [set(train.tolist()) for train, _ in folds]
    for rows, (_, test) in zip(seen, folds, strict=True):
        assert rows.isdisjoint(test.tolist())
    # Paired: the baseline's per-fold scores come from the same six folds.
    assert len(evaluation.result(BASELINE, "logistic_regression").folds["macro_f1"]) == 6


def test_breast_cancer_logistic_regression_scores_above_0_9_and_every_arm_has_four_metrics():
    data = load_breast_cancer()
    y = np.where(data.target == 0, "malignant", "benign")  # 212 malignant, 357 benign

    evaluation = evaluate_arms(
        data.data, y, arms=ARMS, numeric=range(30), categorical=[], n_splits=3, n_repeats=1,
        seed=0,
    )  # fmt: skip

    assert evaluation.minority == "malignant"
    assert evaluation.result(BASELINE, "logistic_regression").mean("balanced_accuracy") > 0.9
    entry = evaluation.as_manifest()
    assert [(item["model"], item["arm"]) for item in entry["results"]] == [
        (model, arm.name) for model in ("logistic_regression", "gradient_boosting") for arm in ARMS
    ]
    for item in entry["results"]:
        assert list(item["metrics"]) == list(METRICS)
        for found in item["metrics"].values():
            assert 0.5 < found["mean"] <= 1.0
            assert found["std"] >= 0.0
    json.dumps(entry, allow_nan=False)  # plain JSON: no NaN


def test_a_class_with_3_rows_lowers_the_folds_to_3():
    x, y = _table(40, weights=0.95)
    y = np.array(["no"] * 37 + ["yes"] * 3)

    evaluation = evaluate_arms(
        x, y, arms=ARMS[:2], numeric=range(4), categorical=[], models=LINEAR, n_repeats=2, seed=0
    )

    assert (evaluation.n_splits, evaluation.repeats_run) == (3, 2)
    assert len(evaluation.result(BASELINE, "logistic_regression").folds["macro_f1"]) == 6
    assert any("5 folds lowered to 3" in note and "'yes'" in note for note in evaluation.notes)


def test_a_class_with_a_single_row_skips_the_evaluation_with_the_reason():
    x, y = _table(20)
    y = np.array(["no"] * 19 + ["yes"])

    evaluation = evaluate_arms(x, y, arms=ARMS, numeric=range(4), categorical=[], seed=0)

    assert evaluation.results == ()
    assert "class 'yes' has 1 training row" in evaluation.skipped
    assert evaluation.as_manifest()["skipped"] == evaluation.skipped


def test_a_sampler_that_raises_fails_its_arm_only():
    x, y = _table(60)
    y = np.array(["no"] * 56 + ["yes"] * 4)  # 3 `yes` per training fold: SMOTE's k=5 fails
    arms = [Arm(BASELINE), Arm("SMOTE", lambda labels: SMOTE(k_neighbors=5, random_state=0))]

    evaluation = evaluate_arms(
        x, y, arms=arms, numeric=range(4), categorical=[], models=LINEAR, n_splits=4,
        n_repeats=1, seed=0,
    )  # fmt: skip

    failed = evaluation.result("SMOTE", "logistic_regression")
    assert failed.verdict == FAILED
    assert failed.failed.startswith("fold 1: ValueError: ")
    assert "\n" not in failed.failed
    assert evaluation.result(BASELINE, "logistic_regression").failed is None
    assert evaluation.as_manifest()["results"][1]["metrics"] == {}


def test_rows_above_max_rows_are_subsampled_keeping_class_shares():
    x, y = _table(1000, weights=0.9)
    share = np.mean(y == "yes")

    evaluation = evaluate_arms(
        x, y, arms=ARMS[:1], numeric=range(4), categorical=[], models=LINEAR, max_rows=200,
        n_repeats=1, seed=0,
    )  # fmt: skip

    assert (evaluation.rows_available, evaluation.rows_used) == (1000, 200)
    assert evaluation.classes["yes"] == round(200 * share)
    assert evaluation.subsampled == "1,000 rows are more than max_rows (200): 200 kept, stratified"


def test_stratified_subsample_keeps_each_share_and_enough_rows_for_every_fold():
    y = np.array(["a"] * 900 + ["b"] * 97 + ["c"] * 3)

    kept = stratified_subsample(y, 100, min_per_class=3, seed=0)

    labels, counts = np.unique(y[kept], return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == {"a": 90, "b": 10, "c": 3}
    assert len(set(kept.tolist())) == len(kept)
    assert kept.tolist() == sorted(kept.tolist())
    assert (kept == stratified_subsample(y, 100, min_per_class=3, seed=0)).all()


def test_a_table_too_large_for_the_budget_is_shrunk_and_finishes_near_it():
    x, y = _table(40_000, weights=0.9)
    budget = 0.1  # less than any machine needs for five folds of 32,000 training rows
    started = time.perf_counter()

    evaluation = evaluate_arms(
        x, y, arms=ARMS, numeric=range(4), categorical=[], models=LINEAR,
        time_budget_seconds=budget, max_rows=40_000, seed=0,
    )  # fmt: skip

    assert time.perf_counter() - started < budget * 1.5 + 3
    assert evaluation.rows_used < 40_000
    assert evaluation.repeats_run >= 1
    assert "so one repeat fits the 0.1 s budget" in evaluation.subsampled
    share = evaluation.classes["yes"] / evaluation.rows_used
    assert share == pytest.approx(np.mean(y == "yes"), abs=0.01)


def test_repeats_stop_at_a_boundary_when_the_next_would_pass_the_budget():
    class Slow(RandomOverSampler):
        def fit_resample(self, features, labels, **params):
            time.sleep(0.1)
            return super().fit_resample(features, labels, **params)

    x, y = _table(100)  # at the floor of rows: the budget can only cut repeats
    arms = [Arm(BASELINE), Arm("slow", lambda labels: Slow(random_state=0))]

    evaluation = evaluate_arms(
        x, y, arms=arms, numeric=range(4), categorical=[], models=LINEAR,
        time_budget_seconds=0.8, seed=0,
    )  # fmt: skip

    assert evaluation.repeats_run == 1
    assert evaluation.rows_used == 100
    assert "stopped after 1 of 3 repeats" in " ".join(evaluation.notes)
    assert len(evaluation.result("slow", "logistic_regression").folds["macro_f1"]) == 5


def test_corrected_t_test_matches_the_closed_form_for_2_degrees_of_freedom():
    # d = 1, 2, 3: mean 2, variance 1; corrected: (1/3 + 0.25) · 1; with 2 degrees of freedom
    # the two-sided p-value is 1 - t / sqrt(t² + 2).
    t = 2 / math.sqrt(1 / 3 + 0.25)
    plain = 2 / math.sqrt(1 / 3)

    p_value = corrected_p_value([1.0, 2.0, 3.0], test_to_train=0.25)

    assert p_value == pytest.approx(1 - t / math.sqrt(t**2 + 2))
    assert p_value > 1 - plain / math.sqrt(plain**2 + 2)  # less confident than the plain test
    assert corrected_p_value([np.nan, 1.0, 2.0, 3.0], test_to_train=0.25) == p_value


@pytest.mark.parametrize(
    ("differences", "expected"),
    [([0.0] * 5, 1.0), ([0.02] * 5, 0.0), ([-0.02] * 5, 0.0), ([0.1], None)],
)
def test_corrected_t_test_with_zero_variance_or_too_few_folds(differences, expected):
    p_value = corrected_p_value(differences, test_to_train=0.25)

    assert math.isnan(p_value) if expected is None else p_value == expected


@pytest.mark.parametrize(
    ("balanced_accuracy", "average_precision", "expected"),
    [
        ((0.05, 0.01), (0.0, 0.9), HELPS),
        ((0.0, 0.9), (0.03, 0.001), HELPS),
        ((-0.05, 0.01), (0.01, 0.5), HURTS),
        ((0.05, 0.01), (-0.02, 0.02), MIXED),
        ((0.05, 0.2), (-0.02, 0.3), CANNOT_TELL),
        ((0.05, math.nan), (0.0, 1.0), CANNOT_TELL),
    ],
)
def test_verdict_from_the_significant_differences(balanced_accuracy, average_precision, expected):
    compared = {
        "balanced_accuracy": dict(zip(("difference", "p_value"), balanced_accuracy, strict=True)),
        "average_precision": dict(zip(("difference", "p_value"), average_precision, strict=True)),
    }

    assert verdict(compared) == expected


def test_class_weights_help_and_a_sampler_that_shuffles_the_labels_hurts():
    # 90/10, the minority shifted by 1.5 on one axis: unweighted, the linear model seldom
    # predicts `yes`, and weighting raises balanced accuracy in fold after fold; labels
    # shuffled inside the training folds leave nothing to learn.
    rng = np.random.default_rng(0)
    y = np.array(["no"] * 360 + ["yes"] * 40)
    x = rng.normal(size=(400, 2))
    x[y == "yes", 0] += 1.5

    def shuffled(labels):
        return FunctionSampler(
            func=lambda rows, found: (rows, np.random.default_rng(0).permutation(found)),
            validate=False,
        )

    arms = [*ARMS[:2], Arm("shuffled", shuffled)]

    evaluation = evaluate_arms(
        x, y, arms=arms, numeric=range(2), categorical=[], models=LINEAR, seed=0
    )

    weighted = evaluation.result(CLASS_WEIGHTS, "logistic_regression")
    assert weighted.versus_baseline["balanced_accuracy"]["difference"] > 0.1
    assert weighted.versus_baseline["balanced_accuracy"]["p_value"] < 0.01
    assert weighted.verdict == HELPS
    assert evaluation.result("shuffled", "logistic_regression").verdict == HURTS


def test_pick_takes_the_simplest_candidate_within_the_best_ones_spread():
    evaluation = evaluation_with(
        {BASELINE: (0.70, 0.02), CLASS_WEIGHTS: (0.80, 0.02), "SMOTE": (0.81, 0.03)}
    )

    chosen = pick(evaluation, candidates=[BASELINE, CLASS_WEIGHTS, "SMOTE"])

    assert chosen.winner == CLASS_WEIGHTS
    assert "within the spread of the best, SMOTE at 0.810 ± 0.030" in chosen.reason
    assert [(item.name, round(item.score, 3)) for item in chosen.leaderboard] == [
        (BASELINE, 0.7), (CLASS_WEIGHTS, 0.8), ("SMOTE", 0.81),
    ]  # fmt: skip


def test_pick_takes_a_complex_candidate_that_beats_the_simpler_ones_by_more_than_its_spread():
    evaluation = evaluation_with(
        {BASELINE: (0.70, 0.02), CLASS_WEIGHTS: (0.75, 0.02), "SMOTE": (0.90, 0.03)}
    )

    chosen = pick(evaluation, candidates=[BASELINE, CLASS_WEIGHTS, "SMOTE"])

    assert chosen.winner == "SMOTE"
    assert "more than its spread above every simpler candidate (at most 0.750)" in chosen.reason


def test_pick_lists_a_failed_candidate_with_its_reason_and_passes_it_over():
    failed = "fold 1: ValueError: k too large"
    evaluation = evaluation_with({BASELINE: (0.70, 0.02), "SMOTE": failed})

    chosen = pick(evaluation, candidates=[BASELINE, "SMOTE"])
    entry = chosen.as_manifest()

    assert chosen.winner == BASELINE
    assert entry["leaderboard"][1] == {
        "name": "SMOTE",
        "score": None,
        "spread": None,
        "verdicts": {"logistic_regression": FAILED, "gradient_boosting": FAILED},
        "failed": "fold 1: ValueError: k too large",
    }
    json.dumps(entry, allow_nan=False)


def test_pick_refuses_a_candidate_that_was_not_evaluated():
    evaluation = evaluation_with({BASELINE: (0.70, 0.02)})

    with pytest.raises(ConfigError, match="candidate 'SMOTE' was not evaluated"):
        pick(evaluation, candidates=[BASELINE, "SMOTE"])


def test_a_model_whose_one_repeat_cannot_fit_the_budget_is_left_out_after_one_fit():
    # 200 columns: the boosted trees' fit grows with the columns (a wide table's), and a
    # budget already spent leaves no time for any repeat of theirs.
    x, y = make_classification(
        n_samples=120, n_features=200, n_informative=5, weights=[0.8], random_state=0
    )

    evaluation = evaluate_arms(
        x, y, arms=ARMS, numeric=range(200), categorical=[],
        models=("logistic_regression", "gradient_boosting"),
        time_budget_seconds=0.01, max_rows=1_000, seed=0,
    )  # fmt: skip

    assert evaluation.models == ("logistic_regression",)
    assert {result.model for result in evaluation.results} == {"logistic_regression"}
    assert evaluation.repeats_run == 1  # the first model's first repeat always runs
    [left_out] = [note for note in evaluation.notes if "left out" in note]
    assert left_out.startswith("gradient boosting left out: one fit took ")
    assert f"one repeat ({len(ARMS)} arms × 5 folds" in left_out
    assert evaluation.as_manifest()["models"] == ["logistic_regression"]


def test_the_first_model_is_kept_however_slow_and_a_fast_second_one_too():
    x, y = _table(300)

    evaluation = evaluate_arms(
        x, y, arms=ARMS, numeric=range(4), categorical=[],
        models=("gradient_boosting", "logistic_regression"),
        time_budget_seconds=600, max_rows=1_000, seed=0, n_repeats=1,
    )  # fmt: skip

    assert evaluation.models == ("gradient_boosting", "logistic_regression")
    assert not [note for note in evaluation.notes if "left out" in note]

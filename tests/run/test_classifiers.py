"""The example models and the four scores, on values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasks.run.classifiers import (
    average_precision_kind,
    make_model,
    minority_class,
    score,
    single_threaded,
)
from tasks.run.quantile_bins import QuantileBins


def test_score_on_hand_computed_binary_values():
    # Predicted (argmax): no no yes | yes no. Recall: no 2/3, yes 1/2.
    y_true = np.array(["no", "no", "no", "yes", "yes"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7], [0.7, 0.3]])

    scores = score(y_true, proba, np.array(["no", "yes"]), minority="yes")

    assert scores["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert scores["minority_recall"] == pytest.approx(1 / 2)
    # F1 no: precision 2/3, recall 2/3 → 2/3; F1 yes: precision 1/2, recall 1/2 → 1/2.
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    # Ranked by P(yes): 0.7 (yes), 0.6 (no), 0.3 (yes), ... → AP = (1/1 + 2/3) / 2.
    assert scores["average_precision"] == pytest.approx((1 + 2 / 3) / 2)


def test_score_on_multiclass_is_macro_one_vs_rest_over_the_classes_present():
    classes = np.array(["a", "b", "c"])
    y_true = np.array(["a", "a", "b", "b"])  # no `c` in this fold
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1]])

    scores = score(y_true, proba, classes, minority="c")

    # AP a: ranked 0.6 (a), 0.5 (b), 0.2 (a) → (1 + 2/3) / 2; AP b: 0.8 (b), 0.5 (a),
    # 0.4 (b), 0.3 (a) → (1 + 2/3) / 2; `c` has no positive and is left out.
    assert scores["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert scores["minority_recall"] == 0.0  # zero_division=0, no warning
    assert not math.isnan(scores["macro_f1"])


def test_average_precision_without_any_positive_is_nan_not_zero():
    scores = score(
        np.array(["no", "no"]), np.array([[0.9, 0.1], [0.2, 0.8]]), ["no", "yes"], minority="yes"
    )

    assert math.isnan(scores["average_precision"])
    assert scores["minority_recall"] == 0.0


def test_minority_class_is_the_smallest_and_ties_go_to_the_first_by_text():
    assert minority_class(["b", "b", "a", "c", "c", "a"]) == "a"
    assert minority_class([2, 2, 2, 1, 1, 3]) == 3


def test_average_precision_kind_says_which_average():
    assert "minority class" in average_precision_kind(2)
    assert "one-vs-rest" in average_precision_kind(3)


@pytest.mark.parametrize("kind", ["logistic_regression", "gradient_boosting"])
def test_models_fit_an_object_matrix_of_floats_and_strings_with_unseen_categories(kind):
    rng = np.random.default_rng(0)
    x = np.empty((80, 2), dtype=object)
    x[:, 0] = rng.normal(size=80)
    x[:, 1] = np.where(np.arange(80) % 2, "red", "blue")
    y = np.where(x[:, 0].astype(float) > 0, "yes", "no")
    model = make_model(kind, numeric=[0], categorical=[1], class_weight="balanced", seed=0)

    with single_threaded():
        model.fit(x, y)
    unseen = np.array([[2.0, "green"], [-2.0, "green"]], dtype=object)

    assert model.predict(unseen).tolist() == ["yes", "no"]
    assert model.named_steps["classify"].class_weight == "balanced"


def test_gradient_boosting_is_reproducible_for_a_seed():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + rng.normal(scale=0.5, size=200) > 0).astype(int)

    first, second = (
        make_model(
            "gradient_boosting", numeric=[0, 1, 2], categorical=[], class_weight=None, seed=3
        )
        .fit(x, y)
        .predict_proba(x)
        for _ in range(2)
    )

    np.testing.assert_array_equal(first, second)


def test_unknown_model_kind_names_the_choices():
    with pytest.raises(ValueError, match="logistic_regression, gradient_boosting"):
        make_model("forest", numeric=[0], categorical=[], class_weight=None, seed=0)


def test_quantile_bins_cut_at_midpoints_or_quantiles_like_the_trees_do():
    few = np.array([[1.0], [1.0], [2.0], [4.0]])
    many = np.arange(1000, dtype=float).reshape(-1, 1)

    binned_few = QuantileBins().fit_transform(few)
    binner = QuantileBins(max_bins=4).fit(many)

    # Midpoints 1.5 and 3: 1 → bin 0, 2 → bin 1, 4 → bin 2.
    assert binned_few.ravel().tolist() == [0.0, 0.0, 1.0, 2.0]
    # Quartiles of 0..999: each bin holds a quarter of the rows; beyond the range: the ends.
    counts = np.bincount(binner.transform(many).ravel().astype(int))
    assert counts.tolist() == [250, 250, 250, 250]
    assert binner.transform(np.array([[-5.0], [5000.0]])).ravel().tolist() == [0.0, 3.0]

import json

import pytest

from rebalance.errors import SamplerError
from tasks.run.class_weights import (
    CLASS_WEIGHTS_FILE,
    balanced_weights,
    class_weights,
    class_weights_file,
    effective_number_weights,
    write_class_weights,
)


def test_balanced_matches_scikit_learn():
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.array(["a"] * 90 + ["b"] * 10)

    expected = compute_class_weight("balanced", classes=np.array(["a", "b"]), y=labels)

    assert list(balanced_weights({"a": 90, "b": 10}).values()) == pytest.approx(expected)


def test_effective_number_follows_cui_et_al():
    beta = 0.99
    raw = {name: (1 - beta) / (1 - beta**count) for name, count in {"a": 900, "b": 10}.items()}
    scale = 2 / sum(raw.values())

    weights = effective_number_weights({"a": 900, "b": 10}, beta=beta)

    assert weights == pytest.approx({name: value * scale for name, value in raw.items()})
    assert sum(weights.values()) == pytest.approx(2)
    assert weights["b"] > weights["a"]


def test_beta_zero_gives_equal_weights():
    assert effective_number_weights({"a": 900, "b": 10}, beta=0) == pytest.approx(
        {"a": 1.0, "b": 1.0}
    )


def test_both_sets_keep_label_values_in_sorted_order_with_their_counts():
    weights = class_weights({1: 10, 0: 30}, {0: 30, 1: 30}, beta=0.999, label="y")

    assert weights["label_column"] == "y"
    assert weights["classes"] == [0, 1]
    assert weights["before_rebalancing"]["counts"] == [30, 10]
    assert weights["as_published"]["counts"] == [30, 30]
    assert weights["before_rebalancing"]["balanced"]["by_label"] == {
        "0": pytest.approx(40 / 60),
        "1": 2.0,
    }
    assert weights["effective_number_beta"] == 0.999
    assert "one correction, not both" in weights["note"]
    for key in ("before_rebalancing", "as_published"):
        assert weights[key]["use_for"]


def test_a_balanced_published_train_gets_as_published_weights_of_one():
    weights = class_weights(
        {"a": 90, "b": 10, "c": 5}, {"a": 90, "b": 90, "c": 90}, beta=0.99, label="y"
    )

    published = weights["as_published"]
    assert published["balanced"]["by_label"] == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert published["effective_number"]["by_label"] == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert weights["before_rebalancing"]["balanced"]["by_label"]["c"] > 1


def test_a_class_short_of_its_target_gets_the_larger_as_published_weight():
    # Paraphrasing found 40 usable texts for "b" where 90 were needed; "c" reached its target.
    weights = class_weights(
        {"a": 90, "b": 10, "c": 30}, {"a": 90, "b": 50, "c": 90}, beta=0.99, label="y"
    )

    for scheme in ("balanced", "effective_number"):
        published = weights["as_published"][scheme]["by_label"]
        before = weights["before_rebalancing"][scheme]["by_label"]
        assert published["b"] > 1 > published["c"]
        assert published["c"] == pytest.approx(published["a"])
        # Less than the weight before: the synthetic rows made up for part of the gap.
        assert published["b"] < before["b"]
    assert weights["as_published"]["balanced"]["by_label"]["b"] == pytest.approx(230 / (3 * 50))


def test_the_file_adds_ordered_lists_that_follow_classes(tmp_path):
    weights = class_weights(
        {"b": 30, "a": 10, "c": 5}, {"b": 30, "a": 30, "c": 20}, beta=0.9, label="y"
    )

    path = write_class_weights(weights, tmp_path)
    written = json.loads(path.read_text())

    assert path.name == CLASS_WEIGHTS_FILE
    assert written == class_weights_file(weights)
    assert written["classes"] == ["a", "b", "c"]
    for key in ("before_rebalancing", "as_published"):
        for scheme in ("balanced", "effective_number"):
            chosen = written[key][scheme]
            assert chosen["ordered"] == [chosen["by_label"][name] for name in written["classes"]]
    assert written["before_rebalancing"]["balanced"]["ordered"] == pytest.approx([1.5, 0.5, 3.0])
    assert "ordered" not in weights["as_published"]["balanced"]  # the manifest stays compact


def test_a_class_the_sampler_removed_is_named():
    with pytest.raises(SamplerError, match=r"class 'b' of label 'y' has no row left"):
        class_weights({"a": 30, "b": 3}, {"a": 3}, beta=0.9, label="y")

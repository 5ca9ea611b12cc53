import pytest

from tasks.run.class_weights import balanced_weights, class_weights, effective_number_weights


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


def test_manifest_shape_keeps_label_values_and_states_normalisation():
    weights = class_weights({0: 30, 1: 10}, beta=0.999)

    assert weights["classes"] == [0, 1]
    assert set(weights["balanced"]["weights"]) == {"0", "1"}
    assert "normalisation" in weights["effective_number"]
    assert weights["effective_number"]["beta"] == 0.999

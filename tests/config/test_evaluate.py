"""The `evaluate` section and `rebalance.sampler: auto` in the config."""

import pytest

from rebalance.config import parse_config
from rebalance.errors import ConfigError

BASE = {"name": "d", "source": "x.csv", "label": "y"}


def _config(**sections):
    return parse_config({**BASE, **sections})


def test_the_evaluation_is_on_by_default_with_a_time_budget():
    config = _config()

    assert config.evaluate.enabled is True
    assert config.evaluate.time_budget_seconds == 60
    assert config.evaluate.models == ["logistic_regression", "gradient_boosting"]


def test_auto_takes_any_case_and_its_candidates_keep_imblearns_spelling():
    config = _config(rebalance={"sampler": "Auto", "candidates": ["CLASS_WEIGHTS", "smote"]})

    assert config.rebalance.sampler == "auto"
    assert config.rebalance.candidates == ["class_weights", "SMOTE"]


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (
            {"rebalance": {"sampler": "auto", "params": {"k_neighbors": 3}}},
            "candidates run with their default parameters",
        ),
        (
            {"rebalance": {"sampler": "auto"}, "evaluate": {"enabled": False}},
            "evaluate.enabled: false turns off",
        ),
        ({"rebalance": {"candidates": ["SMOTE", "smot"]}}, "unknown sampler 'smot'"),
        ({"rebalance": {"candidates": ["none"]}}, "list 'class_weights'"),
        ({"rebalance": {"candidates": ["SMOTE", "smote"]}}, "lists a name twice"),
        ({"evaluate": {"time_budget_seconds": 0}}, "evaluate.time_budget_seconds"),
        ({"evaluate": {"models": ["random_forest"]}}, "evaluate.models"),
        ({"evaluate": {"n_splits": 1}}, "evaluate.n_splits"),
    ],
)
def test_a_bad_evaluation_or_auto_setting_is_refused_naming_it(sections, expected):
    with pytest.raises(ConfigError, match=expected):
        _config(**sections)

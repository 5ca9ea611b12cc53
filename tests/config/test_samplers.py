"""Sampler names and parameters are checked when the config loads, as imbalanced-learn would."""

import importlib
import itertools

import pytest

from rebalance.config import parse_config
from rebalance.config.samplers import SAMPLER_NAMES, check_params
from rebalance.config.vocabulary import SAMPLER_PARAMS
from rebalance.errors import ConfigError

BASE = {"name": "d", "source": "nowhere.csv", "label": "y"}
SAMPLER_MODULES = ("imblearn.over_sampling", "imblearn.under_sampling", "imblearn.combine")
# Values a YAML file can give a parameter, of every kind imblearn's constraints tell apart.
VALUES = [
    -1, 0, 1, 2, 3, 7, 2**32, 0.0, 0.5, 1.0, 1.5, float("nan"), True, False, None,
    "auto", "all", "majority", "minority", "not minority", "hard", "soft", "mode", "bogus",
    [0, 1], {"a": 3}, [],
]  # fmt: skip


def _config(**rebalance):
    return parse_config({**BASE, "rebalance": rebalance})


@pytest.mark.parametrize(
    ("rebalance", "expected"),
    [
        (
            {"sampler": "SMOOTE"},
            r"'rebalance\.sampler': unknown sampler 'SMOOTE'; did you mean SMOTE",
        ),
        (
            {"sampler": "SMOTE", "params": {"k_neighbours": 3}},
            r"'rebalance\.params': SMOTE has no parameter 'k_neighbours' \(did you mean "
            r"'k_neighbors'\?\)",
        ),
        (
            {"sampler": "SMOTE", "params": {"k_neighbors": 0}},
            r"The 'k_neighbors' parameter of SMOTE must be an int in the range \[1, inf\) or an "
            r"object implementing 'kneighbors' and 'kneighbors_graph'\. Got 0 instead\.",
        ),
        ({"sampler": "SMOTE", "params": {"sampling_strategy": "most"}}, "'sampling_strategy'"),
        ({"sampler": "SMOTE", "params": {"random_state": 1}}, r"set rebalance\.random_state"),
        ({"sampler": "none", "params": {"k_neighbors": 3}}, "rebalance.sampler is 'none'"),
        ({"random_state": -1}, r"'rebalance\.random_state': Input should be greater than"),
    ],
)
def test_a_bad_sampler_or_parameter_is_refused_when_the_config_loads(rebalance, expected):
    with pytest.raises(ConfigError, match=expected) as caught:
        _config(**rebalance)

    assert "\n" not in str(caught.value)


def test_sampler_names_are_taken_in_any_case_and_kept_in_imblearns_spelling():
    assert _config(sampler="smotenc").rebalance.sampler == "SMOTENC"
    assert _config(sampler="NONE").rebalance.sampler == "none"


def test_the_vocabulary_names_every_imblearn_sampler_and_its_parameters():
    for module_name in SAMPLER_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert set(SAMPLER_PARAMS[name]) == set(getattr(module, name)._get_param_names())
    assert len(SAMPLER_NAMES) == sum(
        len(importlib.import_module(name).__all__) for name in SAMPLER_MODULES
    )


# Parameters a class cannot be built without (the pipeline fills SMOTENC's in from the columns).
REQUIRED = {"SMOTENC": {"categorical_features": "auto"}}


def _sklearn_accepts(cls, param, value) -> bool:
    try:
        cls(**{**REQUIRED.get(cls.__name__, {}), param: value})._validate_params()
    except (ValueError, TypeError):
        return False
    return True


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_the_config_refuses_exactly_the_values_sklearn_refuses(name):
    cls = next(
        getattr(module, name)
        for module in map(importlib.import_module, SAMPLER_MODULES)
        if name in module.__all__
    )
    checked = 0
    for param, value in itertools.product(SAMPLER_PARAMS[name], VALUES):
        if param == "random_state":
            continue  # set from the run's seed, never from params
        try:
            check_params(name, {param: value})
            ours = True
        except ValueError:
            ours = False
        assert ours == _sklearn_accepts(cls, param, value), (name, param, value)
        checked += 1
    assert checked >= len(VALUES)

"""Per-class targets, as images (targets) and text (shortfalls) use them."""

import pytest

from rebalance.errors import ConfigError
from tasks.core.targets import class_targets, shortfalls

COUNTS = {"a": 10, "b": 4, "c": 1}


@pytest.mark.parametrize(
    ("target", "wanted", "missing"),
    [
        ("majority", {"a": 10, "b": 10, "c": 10}, {"a": 0, "b": 6, "c": 9}),
        (6, {"a": 6, "b": 6, "c": 6}, {"a": 0, "b": 2, "c": 5}),
        ({"c": 5}, {"a": 10, "b": 4, "c": 5}, {"a": 0, "b": 0, "c": 4}),
    ],
)
def test_each_target_form_gives_targets_and_what_is_missing(target, wanted, missing):
    assert class_targets(COUNTS, target) == wanted
    assert shortfalls(COUNTS, target) == missing


def test_integer_labels_are_matched_by_their_spelling():
    assert class_targets({1: 3, 2: 1}, {"2": 3}) == {1: 3, 2: 3}
    assert shortfalls({0: 9, 1: 2}, {"1": 5}) == {0: 0, 1: 3}


def test_a_class_the_training_split_lacks_is_named_with_the_ones_it_has():
    with pytest.raises(ConfigError, match=r"names class\(es\) 'd', which .* classes are a, b, c"):
        shortfalls(COUNTS, {"d": 3})

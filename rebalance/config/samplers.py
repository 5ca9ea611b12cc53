"""imbalanced-learn's vocabulary for the config: sampler names and what their parameters accept.

Names and values are checked against `vocabulary.py` (read from imbalanced-learn and
scikit-learn, kept in sync by a test) rather than by importing imblearn, which takes seconds:
the same parameters scikit-learn's `_validate_params` would refuse are refused here, with its
wording, before anything else runs. The rebalance step still builds the sampler with
imblearn itself.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from typing import Any

from rebalance.config.hints import name_hint, parameter_hint
from rebalance.config.vocabulary import SAMPLER_PARAMS

NO_SAMPLER = "none"
SAMPLER_NAMES = tuple(SAMPLER_PARAMS)
# The largest seed numpy's legacy RandomState takes (imblearn's `random_state`).
MAX_SEED = 2**32 - 1
_INSTANCE_TYPES = {
    "integral": numbers.Integral,
    "real": numbers.Real,
    "mapping": Mapping,
    "list": list,
    "dict": dict,
}


def canonical_sampler(name: str, /) -> str:
    """imbalanced-learn's spelling of a sampler name given in any case, or `none`.

    Raises:
        ValueError: no sampler has that name; the message suggests the closest ones.
    """
    if name.lower() == NO_SAMPLER:
        return NO_SAMPLER
    by_lower = {candidate.lower(): candidate for candidate in SAMPLER_NAMES}
    canonical = by_lower.get(name.lower())
    if canonical is None:
        hint = name_hint(name, SAMPLER_NAMES, cutoff=0.5)
        msg = (
            f"unknown sampler '{name}'; {hint}choose an imbalanced-learn sampler "
            f"({', '.join(SAMPLER_NAMES)}) or '{NO_SAMPLER}'"
        )
        raise ValueError(msg)
    return canonical


def check_params(sampler: str, params: Mapping[str, Any], /) -> None:
    """Refuse parameters `sampler` does not have, or values imblearn would refuse.

    Raises:
        ValueError: naming the parameter, what it accepts and the value given.
    """
    if sampler == NO_SAMPLER:
        if params:
            msg = f"rebalance.params is set but rebalance.sampler is '{NO_SAMPLER}'; remove one"
            raise ValueError(msg)
        return
    accepted = SAMPLER_PARAMS[sampler]
    if "random_state" in params:
        msg = (
            "rebalance.params.random_state is set from the run's seed; remove it and set "
            "rebalance.random_state (or split.seed) instead"
        )
        raise ValueError(msg)
    for name, value in params.items():
        if name not in accepted:
            hint = parameter_hint(name, accepted)
            msg = (
                f"{sampler} has no parameter '{name}'{hint}; its parameters are "
                f"{', '.join(sorted(set(accepted) - {'random_state'}))}"
            )
            raise ValueError(msg)
        constraints = accepted[name]
        if constraints is None or any(_satisfies(value, item) for item in constraints):
            continue
        descriptions = [item[-1] for item in constraints]
        must = (
            descriptions[0]
            if len(descriptions) == 1
            else f"{', '.join(descriptions[:-1])} or {descriptions[-1]}"
        )
        msg = f"The {name!r} parameter of {sampler} must be {must}. Got {value!r} instead."
        raise ValueError(msg)


def _satisfies(value: Any, constraint: tuple[Any, ...]) -> bool:
    """scikit-learn's `is_satisfied_by` for the values a YAML file can hold."""
    kind = constraint[0]
    if kind == "interval":
        _, number, left, right, closed, _ = constraint
        return _in_interval(value, number, left, right, closed)
    if kind == "str":
        return isinstance(value, str) and value in constraint[1]
    if kind == "options":
        return value in constraint[1]
    if kind == "none":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "random_state":
        return value is None or _in_interval(value, "integral", 0, MAX_SEED, "both")
    if kind == "array_like":
        return isinstance(value, list | tuple | dict)
    if kind == "cv":
        return (
            value is None
            or isinstance(value, list | dict)
            or _in_interval(value, "integral", 2, None, "left")
        )
    if kind == "instance":
        return isinstance(value, _INSTANCE_TYPES[constraint[1]])
    return False  # an object (an estimator, a callable): YAML cannot give one


def _in_interval(value: Any, number: str, left: Any, right: Any, closed: str) -> bool:
    if number == "integral" and not isinstance(value, numbers.Integral):
        return False
    if number == "real" and not isinstance(value, numbers.Real):
        return False
    if number == "real_not_int" and (
        not isinstance(value, numbers.Real) or isinstance(value, numbers.Integral)
    ):
        return False
    if not isinstance(value, numbers.Integral) and math.isnan(value):
        return False
    below = operator.lt if closed in ("left", "both") else operator.le
    above = operator.gt if closed in ("right", "both") else operator.ge
    low = -math.inf if left is None else left
    high = math.inf if right is None else right
    return not below(value, low) and not above(value, high)

"""albumentations' vocabulary for the config: transform names and their parameters.

Checked against `vocabulary.py` (read from albumentations, kept in sync by a test) rather than
by importing albumentations, which takes seconds: names, and the values its `InitSchema`
bounds (a number's range, a `Literal`'s options). The rest of a value is albumentations' own to
check: the `check-config` step builds the pipeline before any data is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rebalance.config.hints import name_hint, parameter_hint
from rebalance.config.vocabulary import TRANSFORM_PARAMS, TRANSFORM_VALUES

TRANSFORM_NAMES = tuple(TRANSFORM_PARAMS)
PIPELINE_SUFFIXES = (".yaml", ".yml", ".json")


def check_augmentations(spec: Sequence[str | Mapping[str, Any]] | Path | None, /) -> None:
    """Refuse unknown transform or parameter names, with the closest names as a hint.

    Raises:
        ValueError: naming the list entry (`rebalance.augmentations[i]`) or the file.
    """
    if spec is None:
        return
    if isinstance(spec, Path):
        if spec.suffix.lower() not in PIPELINE_SUFFIXES:
            msg = f"rebalance.augmentations file {spec} must be .yaml, .yml or .json"
            raise ValueError(msg)
        return
    for position, item in enumerate(spec):
        _check_item(item, f"rebalance.augmentations[{position}]")


def _check_item(item: str | Mapping[str, Any], where: str) -> None:
    if isinstance(item, str):
        name, params = item, {}
    elif isinstance(item, Mapping) and len(item) == 1:
        name, params = next(iter(item.items()))
        params = dict(params or {})
    else:
        msg = f"{where} must be a transform name or `{{Name: {{param: value}}}}`, got {item!r}"
        raise ValueError(msg)
    if name not in TRANSFORM_PARAMS:
        hint = name_hint(name, TRANSFORM_NAMES)
        msg = (
            f"{where}: '{name}' is not an albumentations transform; {hint}use a class name "
            "such as Affine, HorizontalFlip, RandomResizedCrop or ColorJitter"
        )
        raise ValueError(msg)
    accepted = TRANSFORM_PARAMS[name]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        hint = parameter_hint(unknown[0], accepted)
        msg = (
            f"{where}: {name} has no parameter {', '.join(repr(p) for p in unknown)}{hint}; "
            f"its parameters are {', '.join(accepted)}"
        )
        raise ValueError(msg)
    for param, value in params.items():
        constraint = TRANSFORM_VALUES.get(name, {}).get(param)
        problem = _refused(value, constraint) if constraint else None
        if problem:
            msg = f"{where}: {name} parameter '{param}' must be {problem}, not {value!r}"
            raise ValueError(msg)


def _refused(value: Any, constraint: tuple[Any, ...]) -> str | None:
    """What `value` should be, in pydantic's words, when albumentations would refuse it.

    Only plain numbers and strings are judged here: pydantic also coerces other values
    ("0.5", True), which albumentations then judges itself when the pipeline is built.
    """
    if isinstance(value, bool):
        return None
    if constraint[0] == "options":
        options = constraint[1]
        if not any(type(value) is type(option) for option in options) or value in options:
            return None
        shown = [repr(option) if isinstance(option, str) else str(option) for option in options]
        return f"{', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1 else shown[0]
    if not isinstance(value, int | float) or math.isnan(value):
        return None
    ge, gt, le, lt = constraint[1:]
    for bound, broken, words in (
        (ge, lambda b: value < b, "greater than or equal to"),
        (gt, lambda b: value <= b, "greater than"),
        (le, lambda b: value > b, "less than or equal to"),
        (lt, lambda b: value >= b, "less than"),
    ):
        if bound is not None and broken(bound):
            return f"{words} {bound}"
    return None


def describe_parameter_errors(transform: str, exc: BaseException, /) -> str | None:
    """One clause per refused parameter of `transform`, from the pydantic error behind `exc`.

    albumentations checks its parameters with a pydantic `InitSchema` and re-raises the
    failure as a ValueError holding pydantic's multi-line report (a URL on every other
    line); the structured errors are on the exception's cause. None when `exc` is not
    such a failure (the caller shows its message instead).

    Example: `Affine parameter 'p' must be less than or equal to 1, not 2`.
    """
    errors = _pydantic_errors(exc)
    if not errors:
        return None
    by_parameter: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        parameter = str(error["loc"][0]) if error.get("loc") else ""
        by_parameter.setdefault(parameter, []).append(error)
    clauses = []
    for parameter, found in by_parameter.items():
        subject = f"{transform} parameter '{parameter}'" if parameter else transform
        value = found[0].get("input")
        allowed = [_allowed(error["msg"]) for error in found]
        if all(item is not None for item in allowed):
            either = " or ".join(dict.fromkeys(item for item in allowed if item))
            clauses.append(f"{subject} must be {either}, not {value!r}")
        else:
            reasons = "; ".join(
                dict.fromkeys(error["msg"].removeprefix("Value error, ") for error in found)
            )
            shown = f" = {value!r}" if parameter else ""
            clauses.append(f"{subject}{shown}: {reasons.rstrip('.')}")
    return "; ".join(clauses)


def _pydantic_errors(exc: BaseException) -> list[dict[str, Any]]:
    seen: BaseException | None = exc
    for _ in range(3):  # the error itself, or its cause (albumentations' `raise ... from`)
        if seen is None:
            return []
        errors = getattr(seen, "errors", None)
        if callable(errors):
            try:
                return list(errors(include_url=False))
            except TypeError:
                return []
        seen = seen.__cause__ or seen.__context__
    return []


def _allowed(message: str) -> str | None:
    """`Input should be a valid number, unable to parse ...` → `a valid number`."""
    if not message.startswith("Input should be "):
        return None
    return message.removeprefix("Input should be ").split(", unable to")[0]

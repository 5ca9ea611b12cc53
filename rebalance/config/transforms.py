"""albumentations' vocabulary for the config: transform names and their parameters.

Checked against `vocabulary.py` (read from albumentations, kept in sync by a test) rather than
by importing albumentations, which takes seconds. Parameter values are albumentations' own
to check: the `check-config` step builds the pipeline before any data is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rebalance.config.hints import name_hint, parameter_hint
from rebalance.config.vocabulary import TRANSFORM_PARAMS

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

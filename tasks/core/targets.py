"""Per-class targets: how many training samples each class should have after rebalancing.

The config's `rebalance.target` is `majority` (every class up to the largest), one count for
every class, or a `{class: count}` mapping; classes a mapping leaves out keep their count.
"""

from __future__ import annotations

from collections.abc import Mapping

from rebalance.errors import ConfigError


def class_targets(
    counts: Mapping[object, int], target: str | int | Mapping[str, int], /
) -> dict[object, int]:
    """Training samples wanted per class (keys are the labels as they are).

    Raises:
        ConfigError: a `{class: count}` target names a class the training split does not
            have (class names are compared as strings: YAML keys are strings).
    """
    if target == "majority":
        return dict.fromkeys(counts, max(counts.values()))
    if isinstance(target, int):
        return dict.fromkeys(counts, target)
    by_name = {str(name): name for name in counts}
    unknown = [name for name in target if name not in by_name]
    if unknown:
        msg = (
            f"rebalance.target names class(es) {', '.join(repr(name) for name in unknown)}, "
            f"which the training split does not have; its classes are {', '.join(by_name)}"
        )
        raise ConfigError(msg)
    return {name: int(target.get(str(name), count)) for name, count in counts.items()}


def shortfalls(
    counts: Mapping[object, int], target: str | int | Mapping[str, int], /
) -> dict[object, int]:
    """Samples to add per class to reach its target (0 for a class at or above it)."""
    wanted = class_targets(counts, target)
    return {name: max(wanted[name] - count, 0) for name, count in counts.items()}

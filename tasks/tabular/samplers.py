"""imbalanced-learn samplers built by their class names, and what the run needs to know of them.

The config model has already checked the name and the parameters (`rebalance.config.samplers`);
here imblearn's own class is built and checks them once more (`_validate_params`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping
from typing import Any

from rebalance.config.samplers import NO_SAMPLER, canonical_sampler
from rebalance.errors import ConfigError, SamplerError

# imblearn's public sampler modules; `ensemble` holds classifiers, not samplers.
SAMPLER_MODULES = ("imblearn.over_sampling", "imblearn.under_sampling", "imblearn.combine")
# Samplers that look for the k nearest neighbours of each sample within its own class, and
# the name of that parameter: a class needs more than k training rows.
WITHIN_CLASS_NEIGHBOURS = {
    "SMOTE": "k_neighbors",
    "SMOTENC": "k_neighbors",
    "SMOTEN": "k_neighbors",
    "BorderlineSMOTE": "k_neighbors",
    "SVMSMOTE": "k_neighbors",
    "ADASYN": "n_neighbors",
}
# Samplers that generate new feature values and therefore need numeric features.
NUMERIC_ONLY = {
    "SMOTE", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "KMeansSMOTE", "ClusterCentroids",
    "SMOTEENN", "SMOTETomek",
}  # fmt: skip
# Samplers that make new numeric values between training rows (or around them, or as cluster
# centroids): a numeric feature that is really a category code or a row id gets values no row
# has. RandomOverSampler does too with `shrinkage`, and ClusterCentroids not with hard voting
# (see `interpolates`). SMOTENC interpolates its numeric features only.
INTERPOLATING = {
    "SMOTE", "SMOTENC", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "KMeansSMOTE", "SMOTEENN",
    "SMOTETomek", "ClusterCentroids",
}  # fmt: skip
# Samplers that work on any values, strings included (they copy or drop rows).
ANY_VALUES = {"RandomOverSampler", "RandomUnderSampler", "SMOTEN", "SMOTENC"}
# Our subclasses that run instead of imblearn's class of that name: same parameters, same
# output for the same random_state, without imblearn's Python-level loops.
VECTORISED = {
    "SMOTE": "tasks.tabular.vectorised_smote:VectorisedSMOTE",
    "SMOTENC": "tasks.tabular.vectorised_smote:VectorisedSMOTENC",
    "SMOTEN": "tasks.tabular.vectorised_smote:VectorisedSMOTEN",
}
# The releases the vectorised subclasses were checked against (their golden tests compare
# them with imblearn): they reach into private parts of both libraries, so any other release
# runs imblearn's own class instead.
CHECKED_VERSIONS = {"imbalanced-learn": "0.14.2", "scikit-learn": "1.9.1"}


def sampler_class(name: str, /) -> type:
    """The imbalanced-learn class called `name` (case-insensitive).

    Raises:
        ConfigError: no sampler has that name; the message suggests the closest ones.
    """
    try:
        canonical = canonical_sampler(name)
    except ValueError as exc:
        raise ConfigError(f"rebalance.sampler: {exc}") from None
    for module_name in SAMPLER_MODULES:
        module = importlib.import_module(module_name)
        if canonical in module.__all__:
            return getattr(module, canonical)
    raise AssertionError(canonical)  # unreachable: names come from the same modules


def sampler_name(sampler: Any, /) -> str:
    """The imbalanced-learn class name of a sampler, ours included (VectorisedSMOTENC → SMOTENC)."""
    for cls in type(sampler).__mro__:
        if cls.__module__.startswith("imblearn."):
            return cls.__name__
    return type(sampler).__name__


def interpolates(name: str, params: Mapping[str, Any], /) -> bool:
    """Whether sampler `name` (imblearn's class name) with `params` makes new numeric values."""
    if name == "RandomOverSampler":
        return params.get("shrinkage") is not None  # a smoothed bootstrap adds noise
    if name == "ClusterCentroids" and params.get("voting") == "hard":
        return False  # the nearest original row of each centroid, not the centroid
    return name in INTERPOLATING


def refuse_categorical(name: str, categorical: list[str], /) -> None:
    """Refuse categorical feature columns for a sampler that needs numeric features.

    Raises:
        SamplerError: `name` is in `NUMERIC_ONLY` and `categorical` is not empty.
    """
    if categorical and name in NUMERIC_ONLY:
        msg = (
            f"sampler {name} needs numeric features, but {', '.join(categorical)} "
            "are categorical; use SMOTE (it runs SMOTENC on them), RandomOverSampler, or "
            "leave those columns out of `features`"
        )
        raise SamplerError(msg)


def vectorised_fallback(name: str, /) -> str | None:
    """Why imblearn's own class runs instead of our vectorised `name`, or None when it does not.

    The installed imbalanced-learn or scikit-learn is not the release the subclass was checked
    against (`CHECKED_VERSIONS`): the note says so, for the log and the report.
    """
    if name not in VECTORISED:
        return None
    installed = {package: importlib.metadata.version(package) for package in CHECKED_VERSIONS}
    if installed == CHECKED_VERSIONS:
        return None
    checked = " and ".join(f"{package} {version}" for package, version in CHECKED_VERSIONS.items())
    found = " and ".join(f"{package} {version}" for package, version in installed.items())
    return (
        f"{name} ran as imbalanced-learn's own class (same output, slower): the vectorised "
        f"one was checked against {checked}, and {found} is installed"
    )


def streams_as_smote(name: str, /) -> bool:
    """Whether imblearn's `name` runs as our vectorised SMOTE, SMOTENC or SMOTEN, whose
    generation the streamed path (`tasks.tabular.streaming_smote`) repeats draw for draw."""
    return name in VECTORISED and vectorised_fallback(name) is None


def implementation(cls: type, /) -> type:
    """The class that runs for imblearn's `cls`: our vectorised subclass where there is one
    and the installed libraries are the ones it was checked against."""
    target = VECTORISED.get(cls.__name__)
    if target is None or vectorised_fallback(cls.__name__) is not None:
        return cls
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def build_sampler(name: str, params: dict[str, Any], /, *, seed: int) -> Any:
    """Instantiate a sampler from its name and params, checking the params as imblearn does.

    The run's seed is passed as `random_state` to samplers that take one. SMOTENC and
    SMOTEN run as our vectorised subclasses (see `VECTORISED`), reported under imblearn's name.

    Raises:
        ConfigError: unknown sampler, or a parameter or value imblearn rejects.
    """
    cls = sampler_class(name)
    accepted = set(cls._get_param_names())
    unknown = sorted(set(params) - accepted)
    if unknown:
        msg = f"rebalance.params: {cls.__name__} has no parameter '{unknown[0]}'"
        raise ConfigError(msg)
    seeded = {"random_state": seed} if "random_state" in accepted else {}
    sampler = implementation(cls)(**params, **seeded)
    try:
        sampler._validate_params()  # sklearn's own check, run now instead of mid-pipeline
    except ValueError as exc:
        # sklearn names the class in its message; ours runs under imblearn's name.
        reason = str(exc).replace(type(sampler).__name__, cls.__name__)
        msg = f"rebalance.params: {reason} Fix it in the config"
        raise ConfigError(msg) from None
    return sampler


def check_sampler_config(name: str, params: dict[str, Any], /, *, seed: int) -> str | None:
    """Build the sampler once before any work (imblearn's own check of the params); returns
    its canonical name, or None for `none`."""
    if name.lower() == NO_SAMPLER:
        return None
    return sampler_name(build_sampler(name, params, seed=seed))


def lower_neighbours(sampler: Any, *, smallest: int, smallest_class: object) -> str | None:
    """Lower k of a within-class k-NN sampler so the smallest resampled class allows it.

    Returns a note for the log and report when k changed.

    Raises:
        SamplerError: the smallest class has a single training row.
    """
    name = sampler_name(sampler)
    param = WITHIN_CLASS_NEIGHBOURS.get(name)
    if param is None:
        return None
    k = sampler.get_params()[param]
    if not isinstance(k, int) or smallest > k:
        return None
    if smallest <= 1:
        msg = (
            f"class {smallest_class!r} has a single training row, and {name} needs at least "
            "2 rows of a class to interpolate between; use rebalance.sampler: "
            "RandomOverSampler or add rows to that class"
        )
        raise SamplerError(msg)
    sampler.set_params(**{param: smallest - 1})
    return (
        f"{name}: {param} lowered from {k} to {smallest - 1} because class "
        f"{smallest_class!r} has only {smallest} training rows"
    )


def raise_sampler_failure(name: str, exc: Exception) -> None:
    """Re-raise an error from imblearn's fit_resample as one actionable line."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = f"sampler {name} failed on the training split: {reason}; check rebalance.params"
    raise SamplerError(msg) from exc

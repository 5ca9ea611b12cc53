"""Writes `rebalance/config/vocabulary.py`: the names and parameters of imbalanced-learn's
samplers and albumentations' transforms, read from the installed libraries.

The config model checks names and parameters against these tables instead of importing the
libraries, which take 3-4 s each to import: a bad config must fail in well under that. A test
regenerates the tables and fails when they differ from the committed file, so an upgrade of
either library shows up as a failing test, fixed by running::

    .venv/bin/python -m rebalance.config.make_vocabulary

Only YAML values (numbers, strings, booleans, lists, mappings, null) reach the config, so
each scikit-learn constraint becomes the check it makes on such a value; constraints that
only an object can meet (an estimator, a callable) are kept for their description alone.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import numbers
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SAMPLER_MODULES = ("imblearn.over_sampling", "imblearn.under_sampling", "imblearn.combine")
OUTPUT = Path(__file__).with_name("vocabulary.py")
_NUMBER_KINDS = {numbers.Integral: "integral", numbers.Real: "real"}


def sampler_tables() -> dict[str, dict[str, tuple[tuple[Any, ...], ...] | None]]:
    """{sampler: {parameter: constraints (None: not validated)}} for every imblearn sampler."""
    tables = {}
    for module_name in SAMPLER_MODULES:
        module = importlib.import_module(module_name)
        for name in sorted(module.__all__):
            cls = getattr(module, name)
            constraints = cls._parameter_constraints
            tables[name] = {
                param: _constraints(constraints.get(param, "no_validation"))
                for param in cls._get_param_names()
            }
    return dict(sorted(tables.items()))


def _constraints(raw: Any) -> tuple[tuple[Any, ...], ...] | None:
    from sklearn.utils._param_validation import make_constraint

    if raw == "no_validation":
        return None
    made = [make_constraint(item) for item in raw]
    return tuple(_encode(item) for item in made if not item.hidden)


def _encode(constraint: Any) -> tuple[Any, ...]:
    """One constraint as (kind, arguments..., description)."""
    from sklearn.utils import _param_validation as pv

    description = str(constraint)
    kind = type(constraint).__name__
    if isinstance(constraint, pv.Interval):
        number = _NUMBER_KINDS.get(constraint.type, "real_not_int")
        left, right = constraint.left, constraint.right
        return ("interval", number, left, right, constraint.closed, description)
    if isinstance(constraint, pv.Options):
        # scikit-learn lists the options in set order, which changes from run to run.
        options = tuple(sorted(constraint.options, key=repr))
        listed = ", ".join(repr(option) for option in options)
        if isinstance(constraint, pv.StrOptions):
            return ("str", options, f"a str among {{{listed}}}")
        return ("options", options, f"a {constraint.type.__name__} among {{{listed}}}")
    if kind == "_NoneConstraint":
        return ("none", description)
    if kind == "_Booleans":
        return ("boolean", description)
    if kind == "_RandomStates":
        return ("random_state", description)
    if kind == "_ArrayLikes":
        return ("array_like", description)
    if kind == "_CVObjects":
        return ("cv", description)
    if kind == "_InstancesOf" and constraint.type in (*_NUMBER_KINDS, Mapping, dict, list):
        names = {numbers.Integral: "integral", numbers.Real: "real", Mapping: "mapping"}
        return ("instance", names.get(constraint.type, constraint.type.__name__), description)
    # An estimator, a callable, an instance of a class: no YAML value meets it.
    return ("object", description)


def transform_tables() -> dict[str, tuple[str, ...]]:
    """{transform: its parameters} for every albumentations transform class."""
    import albumentations as A

    tables = {}
    for name in sorted(dir(A)):
        cls = getattr(A, name)
        if inspect.isclass(cls) and issubclass(cls, A.BasicTransform):
            accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}
            tables[name] = tuple(sorted(accepted))
    return tables


def transform_value_tables() -> dict[str, dict[str, tuple[Any, ...]]]:
    """{transform: {parameter: constraint}} where albumentations' `InitSchema` declares a
    plain number with bounds, `("interval", ge, gt, le, lt)`, or a `Literal` of numbers or
    strings, `("options", values)`. Other values (ranges, tuples, validators' own rules) are
    albumentations' to check when the pipeline is built."""
    import albumentations as A

    tables = {}
    for name, accepted in transform_tables().items():
        schema = getattr(getattr(A, name), "InitSchema", None)
        fields = getattr(schema, "model_fields", {})
        found = {
            param: constraint
            for param, field in fields.items()
            if param in accepted and (constraint := _value_constraint(field)) is not None
        }
        if found:
            tables[name] = found
    return tables


def _value_constraint(field: Any) -> tuple[Any, ...] | None:
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Literal:
        values = typing.get_args(annotation)
        plain = all(isinstance(v, int | str) and not isinstance(v, bool) for v in values)
        return ("options", values) if plain else None
    if annotation not in (int, float):
        return None
    bounds = {
        key: getattr(item, key)
        for item in field.metadata
        for key in ("ge", "gt", "le", "lt")
        if getattr(item, key, None) is not None
    }
    if not bounds:
        return None
    return ("interval", *(bounds.get(key) for key in ("ge", "gt", "le", "lt")))


def render() -> str:
    """The text of vocabulary.py for the installed libraries."""
    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}"
        for package in ("imbalanced-learn", "scikit-learn", "albumentations")
    )
    lines = [
        f'"""Generated by `python -m rebalance.config.make_vocabulary` from {versions}.',
        "",
        "Do not edit: a test regenerates it and fails when it differs.",
        '"""',
        "",
        "# Each sampler's parameters, each with scikit-learn's constraints on its value (None: the",
        "# value is not validated). A constraint is (kind, arguments..., description).",
        "SAMPLER_PARAMS = {",
    ]
    for sampler, params in sampler_tables().items():
        lines.append(f"    {sampler!r}: {{")
        for param, constraints in params.items():
            if constraints is None:
                lines.append(f"        {param!r}: None,")
                continue
            lines.append(f"        {param!r}: (")
            lines += [f"            {constraint!r}," for constraint in constraints]
            lines.append("        ),")
        lines.append("    },")
    lines += ["}", "", "# Each transform's parameters.", "TRANSFORM_PARAMS = {"]
    lines += [f"    {name!r}: {params!r}," for name, params in transform_tables().items()]
    lines += ["}", ""]
    lines += [
        "# The parameter values albumentations' InitSchema bounds: (interval, ge, gt, le, lt) or",
        "# (options, values).",
        "TRANSFORM_VALUES = {",
    ]
    for name, params in transform_value_tables().items():
        lines.append(f"    {name!r}: {{")
        lines += [f"        {param!r}: {constraint!r}," for param, constraint in params.items()]
        lines.append("    },")
    lines += ["}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")

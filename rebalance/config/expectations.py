"""Great Expectations' vocabulary for the config: expectation names and the kwargs they take.

`validation.expectations` entries and the expectations of a `validation.expectation_suite`
file are checked against `expectation_vocabulary.py` (read from the installed GX, kept in sync
by a test) rather than by importing great_expectations, which takes 6-14 s: an unknown name,
an unknown or missing kwarg, or a value of a type GX's schema does not allow is refused when
the config loads, naming the entry and the closest names. The validate step builds the
expectations with GX itself (GX's cross-kwarg validators run there, before the split).
"""

from __future__ import annotations

import datetime as dt
import json
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rebalance.config.expectation_vocabulary import ELSEWHERE, EXPECTATIONS
from rebalance.config.hints import name_hint, parameter_hint

EXPECTATION_NAMES = tuple(EXPECTATIONS)
_BY_TYPE = {entry["type"]: name for name, entry in EXPECTATIONS.items()}
_ELSEWHERE_TYPES = {
    "expect" + "".join(f"_{c.lower()}" if c.isupper() else c for c in name[6:]): name
    for name in ELSEWHERE
}
# GX's own severities, and what a suite file's `meta.severity` may say, as ours.
_SEVERITIES = {
    "fail": "fail",
    "critical": "fail",
    "warn": "warn",
    "warning": "warn",
    "info": "warn",
}


def canonical_expectation(name: str, /) -> str:
    """GX's class name for an expectation given as its class name or its snake_case name.

    Raises:
        ValueError: GX has no such expectation, or does not run it on pandas; the message
            suggests the closest names.
    """
    if name in EXPECTATIONS:
        return name
    if name in _BY_TYPE:
        return _BY_TYPE[name]
    other = ELSEWHERE.get(name) or ELSEWHERE.get(_ELSEWHERE_TYPES.get(name, ""))
    if other is not None:
        msg = (
            f"{name} does not run on pandas data, which a run validates (Great Expectations "
            f"runs it on {', '.join(other)}); choose another expectation"
        )
        raise ValueError(msg)
    pool = [*EXPECTATION_NAMES, *_BY_TYPE] if "_" in name else list(EXPECTATION_NAMES)
    hint = name_hint(name, pool)
    msg = (
        f"unknown expectation '{name}'; {hint}use a Great Expectations expectation class "
        "name (ExpectColumnValuesToBeBetween) or its snake_case name "
        "(expect_column_values_to_be_between)"
    )
    raise ValueError(msg)


def check_kwargs(expectation: str, kwargs: Mapping[str, Any], /) -> None:
    """Refuse kwargs `expectation` (a class name) does not take, a required one left out, or
    a value of a type (or outside a range) its GX schema does not allow.

    Raises:
        ValueError: naming the kwarg, what it accepts and the value given.
    """
    params = EXPECTATIONS[expectation]["params"]
    for name, value in kwargs.items():
        if name not in params:
            hint = parameter_hint(name, params)
            msg = (
                f"{expectation} has no kwarg '{name}'{hint}; its kwargs are "
                f"{', '.join(sorted(params))}"
            )
            raise ValueError(msg)
        _, types, enum, minimum, maximum, formats = params[name]
        if not _accepted(value, types, enum, minimum, maximum, formats):
            msg = (
                f"kwarg '{name}' of {expectation} must be "
                f"{_described(types, enum, minimum, maximum, formats)}, got {value!r}"
            )
            raise ValueError(msg)
    missing = [name for name, spec in params.items() if spec[0] and name not in kwargs]
    if missing:
        msg = f"{expectation} needs kwarg(s) {', '.join(missing)}"
        raise ValueError(msg)


def _accepted(
    value: Any,
    types: tuple[str, ...],
    enum: tuple[Any, ...] | None,
    minimum: Any,
    maximum: Any,
    formats: tuple[str, ...] | None,
) -> bool:
    if enum is not None and value in enum:
        return True
    if not any(_is_type(value, kind) for kind in types):
        return False
    if isinstance(value, str) and formats is not None and "string" in types:
        return any(_has_format(value, form) for form in formats)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    return enum is None or value is None


def _has_format(value: str, form: str) -> bool:
    parse = dt.date.fromisoformat if form == "date" else dt.datetime.fromisoformat
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _is_type(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == "string":
        # YAML reads 2024-01-31 as a date; GX takes dates where its schema says a string.
        return isinstance(value, str | dt.date)
    if kind == "array":
        return isinstance(value, list | tuple)
    if kind == "object":
        return isinstance(value, dict)
    return False


def _described(
    types: tuple[str, ...],
    enum: tuple[Any, ...] | None,
    minimum: Any,
    maximum: Any,
    formats: tuple[str, ...] | None,
) -> str:
    words = {
        "null": "null",
        "boolean": "true or false",
        "integer": "an integer",
        "number": "a number",
        "string": "a string",
        "array": "a list",
        "object": "a mapping",
    }
    if enum is not None:
        return f"one of {', '.join(repr(item) for item in enum)}"
    if formats is not None:
        words["string"] = f"a {' or '.join(formats)} string"
    described = [words.get(kind, kind) for kind in types]
    if minimum is not None or maximum is not None:
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        described = [
            f"{item} in [{low}, {high}]" if item == "a number" else item for item in described
        ]
    return " or ".join(described)


class ExpectationEntry(BaseModel):
    """One Great Expectations expectation the validate step runs on the data as read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expectation: str = Field(
        ...,
        description="A Great Expectations expectation class name "
        "(`ExpectColumnValuesToBeBetween`) or its snake_case name "
        "(`expect_column_values_to_be_between`); stored as the class name.",
        json_schema_extra={"enum": list(EXPECTATION_NAMES)},
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="The expectation's kwargs, in GX's names (`column`, `min_value`, "
        "`value_set`, `mostly`...), checked against GX's schema when the config loads.",
    )
    severity: Literal["fail", "warn"] = Field(
        "fail",
        description="`fail` stops the run before the split, naming the expectation, the "
        "column and what GX observed; `warn` is logged and reported (report.md, manifest, "
        "Data Docs) and the run goes on.",
    )

    @field_validator("expectation")
    @classmethod
    def _known(cls, name: str) -> str:
        return canonical_expectation(name)

    @model_validator(mode="after")
    def _kwargs(self) -> ExpectationEntry:
        check_kwargs(self.expectation, self.kwargs)
        return self

    @property
    def columns(self) -> list[str]:
        """The columns its kwargs name (`column`, `column_A`, `column_B`, `column_list`)."""
        named = [self.kwargs.get(key) for key in ("column", "column_A", "column_B")]
        listed = self.kwargs.get("column_list") or []
        return [str(name) for name in [*named, *listed] if name is not None]


def read_suite(path: Path, /) -> list[ExpectationEntry]:
    """The expectations of a Great Expectations suite JSON file (`ExpectationSuite.to_json_dict`
    or GX 0.x's `expectation_type` form), each `fail` unless its `meta.severity` (or GX's
    `severity`) says `warn`, `warning` or `info`.

    Raises:
        ValueError: the file is missing or not a suite, or an entry is not a known
            expectation with valid kwargs; the message names the file and the entry.
    """
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"expectation suite {path} not found; give the path of a GX suite JSON file"
        raise ValueError(msg) from None
    except (OSError, ValueError) as exc:
        msg = f"expectation suite {path} is not readable JSON ({exc}); fix the file"
        raise ValueError(msg) from None
    except RecursionError:  # JSON has no aliases to bomb with, but it can nest without end
        msg = f"expectation suite {path} nests lists or objects too deeply to read; flatten it"
        raise ValueError(msg) from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        msg = (
            f"expectation suite {path} has no 'expectations' list; write it with GX's "
            "ExpectationSuite.to_json_dict()"
        )
        raise ValueError(msg)
    entries = []
    for index, item in enumerate(suite["expectations"]):
        where = f"expectations[{index}] of {path}"
        if not isinstance(item, dict):
            msg = f"{where} must be a mapping with 'type' and 'kwargs', got {item!r}"
            raise ValueError(msg)
        name = item.get("type") or item.get("expectation_type")
        meta = item.get("meta") or {}
        said = meta.get("severity", item.get("severity", "fail"))
        severity = _SEVERITIES.get(str(said).lower())
        if severity is None:
            msg = f"{where}: meta.severity {said!r} must be fail or warn"
            raise ValueError(msg)
        try:
            entries.append(
                ExpectationEntry(
                    expectation=str(name), kwargs=item.get("kwargs") or {}, severity=severity
                )
            )
        except ValueError as exc:
            msg = f"{where} ({name}): {_first_error(exc)}"
            raise ValueError(msg) from None
    return entries


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(error["msg"].removeprefix("Value error, ") for error in errors())
    return str(exc)

"""Writes `rebalance/config/expectation_vocabulary.py`: Great Expectations' expectation classes,
their snake_case names and the kwargs each takes, read from the installed GX.

`validation.expectations` and `validation.expectation_suite` are checked against these tables
instead of importing great_expectations, which takes 6-14 s: a bad config must fail in well
under that. A test regenerates the tables and fails when they differ from the committed file,
so a GX upgrade shows up as a failing test, fixed by running::

    .venv/bin/python -m rebalance.config.make_expectation_vocabulary

Each kwarg keeps what GX's own JSON schema says a YAML value may be (its JSON types, the
values of an enum, a numeric range); GX's validators that relate kwargs to each other
(`min_value` or `max_value` needed...) run when the suite is built, still before the split.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("expectation_vocabulary.py")
# Fields every expectation has that a run sets itself (or that describe, not configure).
NOT_KWARGS = frozenset(
    {
        "id",
        "meta",
        "notes",
        "description",
        "result_format",
        "catch_exceptions",
        "rendered_content",
        "severity",
        "windows",
        "batch_id",
    }
)
# The data source the run validates: GX documents where each expectation runs.
DATA_SOURCE = "Pandas"
# The kwargs that name the columns an expectation reads.
COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")


def expectation_tables() -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, ...]]]:
    """({class: {type, map, params}} for the expectations GX runs on pandas, {class: the data
    sources GX lists} for the others)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        Expectation,
        MulticolumnMapExpectation,
    )

    runnable: dict[str, dict[str, Any]] = {}
    elsewhere: dict[str, tuple[str, ...]] = {}
    for name in sorted(dir(gx.expectations)):
        cls = getattr(gx.expectations, name)
        if not (inspect.isclass(cls) and issubclass(cls, Expectation)) or cls is Expectation:
            continue
        kind = getattr(cls, "expectation_type", "")
        if not kind:  # deprecated or abstract: no snake_case name to write in a suite
            continue
        schema = cls.schema()
        sources = tuple(
            schema["properties"]["metadata"]["properties"]
            .get("supported_data_sources", {})
            .get("const", ())
        )
        # An empty list is undocumented, not unsupported (GX runs those on pandas too).
        if sources and DATA_SOURCE not in sources:
            elsewhere[name] = sources
            continue
        maps = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
        runnable[name] = {
            "type": kind,
            # Its result counts unexpected rows: batches of a streamed table add up.
            "map": issubclass(cls, maps),
            "params": {
                field: _param(field, model_field, schema)
                for field, model_field in cls.__fields__.items()
                if field not in NOT_KWARGS
            },
        }
    return runnable, elsewhere


def _param(name: str, model_field: Any, schema: dict[str, Any]) -> tuple[Any, ...]:
    """(required, JSON types, enum values or None, minimum or None, maximum or None, the
    formats a string must have or None)."""
    types: set[str] = set()
    enum: list[Any] = []
    bounds: dict[str, Any] = {}
    formats: set[str | None] = set()
    for option in _options(schema["properties"].get(name, {}), schema):
        if "enum" in option:
            enum += option["enum"]
        elif "const" in option:
            enum.append(option["const"])
        if "type" in option:
            kinds = option["type"] if isinstance(option["type"], list) else [option["type"]]
            types.update(kinds)
            if "string" in kinds:
                formats.add(option.get("format"))
        bounds.update({key: option[key] for key in ("minimum", "maximum") if key in option})
    minimum, maximum = bounds.get("minimum"), bounds.get("maximum")
    required = bool(model_field.required)
    if not required and model_field.default is None:
        types.add("null")
    if not types and not enum:
        types = {"any"}
    return (
        required,
        tuple(sorted(types)),
        tuple(enum) if enum else None,
        minimum,
        maximum,
        # A string must be a date (or date-time) when every string GX takes has that format.
        None if not formats or None in formats else tuple(sorted(str(f) for f in formats)),
    )


def _options(prop: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a property's schema, nested anyOf/oneOf/allOf flattened."""
    ref = prop.get("$ref")
    if ref is not None:
        target = schema.get("definitions", {}).get(ref.rsplit("/", 1)[-1], {})
        # A model (a row condition, a quantile range) is a mapping in YAML; an enum keeps
        # its values.
        return [target] if "enum" in target else [{"type": "object"}]
    nested = [item for key in ("anyOf", "oneOf", "allOf") for item in prop.get(key, [])]
    if not nested:
        return [prop]
    options = [] if "type" not in prop else [{"type": prop["type"]}]
    for item in nested:
        options += _options(item, schema)
    return options


def render() -> str:
    """The text of expectation_vocabulary.py for the installed Great Expectations."""
    version = importlib.metadata.version("great-expectations")
    runnable, elsewhere = expectation_tables()
    lines = [
        '"""Generated by `python -m rebalance.config.make_expectation_vocabulary` from '
        f"great-expectations {version}.",
        "",
        "Do not edit: a test regenerates it and fails when it differs.",
        '"""',
        "",
        f'GX_VERSION = "{version}"',
        "",
        "# Each expectation GX runs on pandas: its snake_case name, whether its result counts",
        "# unexpected rows (a map expectation), and its kwargs, each as (required, JSON types,",
        "# enum values or None, minimum or None, maximum or None, string formats or None).",
        "EXPECTATIONS = {",
    ]
    for name, entry in runnable.items():
        lines.append(f"    {name!r}: {{")
        lines.append(f"        'type': {entry['type']!r},")
        lines.append(f"        'map': {entry['map']!r},")
        lines.append("        'params': {")
        lines += [f"            {param!r}: {spec!r}," for param, spec in entry["params"].items()]
        lines += ["        },", "    },"]
    lines += [
        "}",
        "",
        "# Expectations GX does not run on pandas, with the data sources it lists for them.",
        "ELSEWHERE = {",
    ]
    lines += [f"    {name!r}: {sources!r}," for name, sources in elsewhere.items()]
    lines += ["}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")

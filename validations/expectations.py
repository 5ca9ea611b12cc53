"""The expectations a config declares, what Great Expectations found for them, and the batches
of a streamed table added up into one validation result.

Everything here works on GX's result JSON (`ExpectationSuiteValidationResult.to_json_dict()`),
so it needs no GX import: what a run reports, and whether it stops, is read from the same
`result.json` the Data Docs are rendered from.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rebalance.errors import ValidationFailed

# Who added an expectation to the suite: the null check, or the config (with a severity).
NULL_CHECK = "null_check"
DECLARED = "declared"
# Values of a failed expectation quoted in a message or the report.
SHOWN_VALUES = 5
# Result keys GX writes for an expectation that counts unexpected rows (a map expectation).
_COUNTS = ("element_count", "unexpected_count")


class Declared(Protocol):
    """An expectation from the config (`rebalance.config.expectations.ExpectationEntry`)."""

    expectation: str
    kwargs: Mapping[str, Any]
    severity: str


@dataclass(frozen=True)
class Outcome:
    """What Great Expectations found for one declared expectation."""

    expectation: str
    kwargs: dict[str, Any]
    severity: str
    success: bool
    observed: str

    @property
    def status(self) -> str:
        """`passed`, `failed` (severity fail) or `warning` (severity warn, not met)."""
        if self.success:
            return "passed"
        return "failed" if self.severity == "fail" else "warning"

    def target(self) -> str:
        """`column 'age'`, `columns 'a', 'b'` or `the table`: what it judged."""
        named = [
            self.kwargs[key] for key in ("column", "column_A", "column_B") if key in self.kwargs
        ]
        named += list(self.kwargs.get("column_list") or [])
        if not named:
            return "the table"
        listed = ", ".join(f"'{name}'" for name in named)
        return f"column {listed}" if len(named) == 1 else f"columns {listed}"

    def as_manifest(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "kwargs": self.kwargs,
            "severity": self.severity,
            "status": self.status,
            "observed": self.observed,
        }


def outcomes(result: Mapping[str, Any], /) -> tuple[Outcome, ...]:
    """The declared expectations' outcomes in a validation result, in the config's order."""
    found = []
    for item in result["results"]:
        config = item["expectation_config"]
        meta = config.get("meta") or {}
        if meta.get("added_by") != DECLARED:
            continue
        found.append(
            (
                meta["order"],
                Outcome(
                    expectation=meta["expectation"],
                    kwargs=_declared_kwargs(config["kwargs"]),
                    severity=meta["severity"],
                    success=bool(item["success"]),
                    observed=observed(item),
                ),
            )
        )
    return tuple(outcome for _, outcome in sorted(found, key=lambda pair: pair[0]))


def _declared_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    # GX adds the run's own kwargs (batch_id); the manifest keeps what the config said.
    return {key: value for key, value in kwargs.items() if key != "batch_id"}


def observed(item: Mapping[str, Any], /) -> str:
    """What GX observed for one expectation, as a phrase: an observed value, a count of
    unexpected values with a few of them, or the error GX raised."""
    error = _error(item.get("exception_info") or {})
    if error is not None:
        return f"an error: {error}"
    result = item.get("result") or {}
    if result.get("observed_value") is not None:
        return f"observed value {_short(result['observed_value'])}"
    if "unexpected_count" not in result:
        return "no observed value"
    unexpected = result["unexpected_count"]
    if "element_count" in result:
        considered = result["element_count"] - result.get("missing_count", 0)
        values = "non-null values" if "missing_count" in result else "values"
        text = f"{unexpected:,} unexpected of {considered:,} {values}"
        if result.get("unexpected_percent") is not None:
            text += f" ({result['unexpected_percent']:.2f}%)"
    else:
        text = f"{unexpected:,} unexpected value(s)"
    listed = result.get("partial_unexpected_list") or []
    shown = [value for value in listed if value is not None]
    if shown:
        text += f", e.g. {', '.join(_short(value) for value in shown[:SHOWN_VALUES])}"
    return text


def _error(info: Mapping[str, Any]) -> str | None:
    """The first line of the error GX caught, if any: `exception_info` is one error, or one
    per metric it could not compute (keyed by the metric)."""
    found = [info] if "raised_exception" in info else list(info.values())
    for entry in found:
        if isinstance(entry, Mapping) and (
            entry.get("raised_exception") or entry.get("exception_message")
        ):
            message = str(entry.get("exception_message") or "an error").strip()
            first = message.splitlines()[0] if message else "an error"
            return first.removeprefix("Error: ")
    return None


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def check_outcomes(found: Sequence[Outcome], /, *, dataset: str) -> None:
    """Stop the run when an expectation of severity `fail` was not met.

    Raises:
        ValidationFailed: naming each failed expectation, what it judged and what GX observed.
    """
    failed = [outcome for outcome in found if outcome.status == "failed"]
    if not failed:
        return
    listed = "; ".join(
        f"{outcome.expectation} on {outcome.target()} found {outcome.observed}"
        for outcome in failed
    )
    msg = (
        f"{len(failed)} expectation(s) of severity fail not met by {dataset!r}: {listed}; fix "
        "the data, or the expectation in validation.expectations (severity: warn reports "
        "without stopping)"
    )
    raise ValidationFailed(msg)


def combine_batches(results: Sequence[Mapping[str, Any]], /) -> dict[str, Any]:
    """One validation result for a table validated batch by batch.

    An expectation that counts unexpected rows (a map expectation: not-null, between, in set)
    adds its counts over the batches and is judged on the sums with its `mostly`, as GX
    judges one frame; any other expectation (a mean, a row count, distinct values) judged
    each batch alone, so it passes when every batch passed and shows the first failing
    batch's result. An error in any batch is the expectation's result. The first batch's
    `meta` is kept, with `batches` (their number) added.
    """
    if len(results) == 1:
        combined = copy.deepcopy(dict(results[0]))
        combined["meta"] = {**combined.get("meta", {}), "batches": 1}
        return combined
    first = results[0]
    # The same expectation in each batch's result, by its id in the suite (GX orders a
    # result's items its own way).
    by_id = [{_key(item): item for item in result["results"]} for result in results]
    items = [_combined_item([batch[_key(item)] for batch in by_id]) for item in first["results"]]
    evaluated = len(items)
    successful = sum(1 for item in items if item["success"])
    return {
        **copy.deepcopy(dict(first)),
        "success": successful == evaluated,
        "results": items,
        "statistics": {
            "evaluated_expectations": evaluated,
            "successful_expectations": successful,
            "unsuccessful_expectations": evaluated - successful,
            "success_percent": 100.0 * successful / evaluated if evaluated else None,
        },
        "meta": {**copy.deepcopy(first.get("meta", {})), "batches": len(results)},
    }


def _key(item: Mapping[str, Any]) -> str:
    config = item["expectation_config"]
    return config.get("id") or json.dumps([config["type"], config["kwargs"]], sort_keys=True)


def _combined_item(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    for item in items:
        if _error(item.get("exception_info") or {}) is not None:
            return copy.deepcopy(dict(item))
    results = [item.get("result") or {} for item in items]
    if not all(all(key in result for key in _COUNTS) for result in results):
        # Judged batch by batch: the first failure (or the first batch) stands for all.
        failing = [item for item in items if not item["success"]]
        return copy.deepcopy(dict(failing[0] if failing else items[0]))
    mostly = items[0]["expectation_config"]["kwargs"].get("mostly", 1)
    total = sum(result["element_count"] for result in results)
    unexpected = sum(result["unexpected_count"] for result in results)
    has_missing = all("missing_count" in result for result in results)
    missing = sum(result.get("missing_count", 0) for result in results)
    considered = total - missing
    # GX's rule (`_mostly_success`): no row to judge is a pass.
    success = considered == 0 or (considered - unexpected) / considered >= mostly
    shown = [value for result in results for value in result.get("partial_unexpected_list", [])]
    summed: dict[str, Any] = {
        "element_count": total,
        "unexpected_count": unexpected,
        "unexpected_percent": 100.0 * unexpected / considered if considered else None,
        "partial_unexpected_list": shown[:SHOWN_VALUES],
    }
    if has_missing:
        summed |= {
            "missing_count": missing,
            "missing_percent": 100.0 * missing / total if total else None,
            "unexpected_percent_total": 100.0 * unexpected / total if total else None,
            "unexpected_percent_nonmissing": summed["unexpected_percent"],
        }
    return {**copy.deepcopy(dict(items[0])), "success": success, "result": summed}

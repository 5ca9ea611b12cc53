"""The paraphrasing loop shared by back-translation and EDA: targets, rounds, quality gate.

A class that needs paraphrases uses its training texts round-robin. Each round has one
"variant" (a pivot language and sample index for back-translation, a seed round for EDA), so
a text gets a second paraphrase only after every text of its class had one, and from a
different pivot or sampled decode. Every candidate passes the quality gate before it counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tasks.core.conflicts import IDENTITY
from validations.text import normalise_text

# What "identical" means for two texts (`text_identity`), for the manifest and report.
TEXT_IDENTITY = (
    "equal text after normalisation: case-folded, runs of whitespace (line breaks included) "
    "made one space, stripped"
)
# The gate's reason for a paraphrase identical to an original text of another class.
CONTRADICTS = "identical_to_other_class"


def text_identity(frame: pl.DataFrame, text_column: str, /) -> pl.Series:
    """Each text's identity: the text as `normalise_text` makes it (what the gate compares)."""
    values = [normalise_text(value or "") for value in frame[text_column].to_list()]
    return pl.Series(IDENTITY, values, dtype=pl.String)


@dataclass(frozen=True)
class Gate:
    """Quality gate: which outputs count as paraphrases."""

    min_length_ratio: float
    max_length_ratio: float

    def reason(self, source: str, output: str, existing: set[str]) -> str | None:
        """Why `output` is rejected (None when accepted); `existing` holds normalised texts."""
        normalised = normalise_text(output)
        if not normalised:
            return "empty"
        if normalised == normalise_text(source):
            return "identical_to_source"
        if normalised in existing:
            return "duplicate"
        ratio = len(output.strip()) / max(len(source.strip()), 1)
        if not self.min_length_ratio <= ratio <= self.max_length_ratio:
            return "length_ratio"
        return None


@dataclass
class ClassStats:
    """What happened to one class's candidates."""

    needed: int = 0
    attempted: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        rate = self.accepted / self.attempted if self.attempted else None
        return {
            "needed": self.needed,
            "attempted": self.attempted,
            "accepted": self.accepted,
            "acceptance_rate": None if rate is None else round(rate, 4),
            "rejected": dict(sorted(self.rejected.items())),
        }


@dataclass(frozen=True)
class Source:
    """One training text that may be paraphrased."""

    row_id: object
    text: str


@dataclass(frozen=True)
class Candidate:
    """An accepted paraphrase and where it came from."""

    label: object
    source: Source
    text: str
    variant: Any


# Produces one output per (label, source text) for a variant, in the same order.
Producer = Callable[[Any, list[object], list[str]], list[str]]


def paraphrase(
    sources: Mapping[object, Sequence[Source]],
    needed: Mapping[object, int],
    /,
    *,
    variants: Sequence[Any],
    produce: Producer,
    gate: Gate,
    existing: set[str],
    originals: Mapping[str, frozenset[object]] | None = None,
) -> tuple[list[Candidate], dict[object, ClassStats]]:
    """Paraphrase each class's sources round-robin until it has `needed` accepted outputs.

    One round per variant: every class still short sends its next sources (at most one per
    source text per round) through `produce`, and the gate decides. `existing` (normalised
    texts of the training split) grows with each accepted paraphrase. A paraphrase whose
    normalised text `originals` (normalised text → classes of the original texts: train,
    val, test) gives another class is rejected as `CONTRADICTS`; a later round's candidate
    takes its place.
    """
    stats = {name: ClassStats(needed=needed.get(name, 0)) for name in sources}
    position = dict.fromkeys(sources, 0)
    accepted: list[Candidate] = []
    for variant in variants:
        jobs: list[tuple[object, Source]] = []
        for name, class_sources in sources.items():
            short = stats[name].needed - stats[name].accepted
            if short <= 0 or not class_sources:
                continue
            take = min(short, len(class_sources))
            start = position[name]
            jobs += [(name, class_sources[(start + i) % len(class_sources)]) for i in range(take)]
            position[name] = (start + take) % len(class_sources)
        if not jobs:
            break
        outputs = produce(variant, [name for name, _ in jobs], [source.text for _, source in jobs])
        for (name, source), output in zip(jobs, outputs, strict=True):
            class_stats = stats[name]
            if class_stats.accepted >= class_stats.needed:
                continue
            class_stats.attempted += 1
            reason = gate.reason(source.text, output, existing)
            contradicts = originals and originals.get(normalise_text(output), frozenset()) - {name}
            if reason != "empty" and contradicts:
                reason = CONTRADICTS
            if reason is None:
                existing.add(normalise_text(output))
                class_stats.accepted += 1
                accepted.append(Candidate(name, source, output, variant))
            else:
                class_stats.rejected[reason] = class_stats.rejected.get(reason, 0) + 1
    return accepted, stats


def shortfall_notes(stats: Mapping[object, ClassStats], /, *, hint: str) -> list[str]:
    """One note per class that did not reach its target."""
    return [
        f"class {name!r} got {item.accepted} of the {item.needed} paraphrases it needed "
        f"({item.attempted} tried, rejected: {item.rejected or 'none'}); {hint}"
        for name, item in stats.items()
        if item.accepted < item.needed
    ]

"""The drift guard: this run's input profile against the profile of the run `latest` points at.

Six checks, each with its `drift.<check>` config (a threshold where it measures a distance,
and a severity: `fail`, `warn` or `off`):

- `columns`: a column added, removed or retyped (polars dtype);
- `row_count`: the relative change in validated rows, |now - before| / before;
- `classes`: a class of the label that appeared or vanished;
- `class_priors`: the total variation distance between the class shares (half their summed
  absolute differences: the share of samples that would have to change class);
- `null_rate`: the absolute change in each column's share of nulls among the rows read;
- `distribution`: each numeric feature's population stability index (PSI) over the quantile
  bins of `latest`'s profile, with this run's values counted in those same bins.

A value exactly at its threshold passes (as `validation.max_drop_fraction` does). The result
goes to the log, the `<name>-drift` artifact, manifest.json (`drift`) and report.md ("Drift
since <run id>"); a `fail` finding stops the run before anything is published.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tasks.core.markdown import render
from tasks.run.folder import LATEST
from tasks.run.profile import PROFILE_FILE, bin_counts, read_profile

if TYPE_CHECKING:
    from rebalance.config.common import DriftConfig

TEMPLATE = Path(__file__).with_name("templates") / "drift.md.j2"
# A bin empty on one side would make the PSI infinite; the usual floor for its share.
PSI_FLOOR = 1e-4
# Measured values are rounded so a value that is its threshold on paper (0.6 - 0.5 is
# 0.09999999999999998 in floating point) compares as equal to it.
DIGITS = 12
# Rows of the report's (and the artifact's) table of findings; the others are counted.
SHOWN_FINDINGS = 20


@dataclass(frozen=True)
class Finding:
    """One check's value beyond its threshold (or a change a check without one refuses)."""

    check: str
    # The column it is about (the label's, for a class), and what exactly: "column 'x'",
    # "class 'b'", "rows".
    column: str | None
    subject: str
    severity: str
    before: str
    now: str
    message: str
    value: float | None = None
    threshold: float | None = None

    @property
    def relax(self) -> str:
        """The config key that lets this finding pass."""
        key = f"drift.{self.check}"
        if self.threshold is None:
            return f"set {key}.severity: warn (or off)"
        return f"raise {key}.threshold (now {self.threshold:g}) or set {key}.severity: warn"


@dataclass(frozen=True)
class Drift:
    """What the drift guard compared, measured and found."""

    baseline: str | None
    note: str
    findings: tuple[Finding, ...] = ()
    # Every measured value, beyond its threshold or not: the largest per check.
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[Finding]:
        """The findings of `fail` checks."""
        return [finding for finding in self.findings if finding.severity == "fail"]

    @property
    def status(self) -> str:
        """`fail`, `warn`, `ok`, or `not compared` (no `latest` with a profile)."""
        if self.baseline is None:
            return "not compared"
        if self.failures:
            return "fail"
        return "warn" if self.findings else "ok"

    def failure_message(self, *, artifact: str) -> str | None:
        """One sentence naming the first failing check, its column, both values and the key
        that relaxes it; None when no check fails."""
        failures = self.failures
        if not failures:
            return None
        first = failures[0]
        more = f" ({len(failures) - 1} more in the log and the {artifact} artifact)"
        return (
            f"drift since run {self.baseline}: {first.message}"
            f"{more if len(failures) > 1 else ''}; if the change is expected, {first.relax}"
        )

    def as_manifest(self) -> dict[str, Any]:
        """manifest.json's `drift` entry."""
        return {
            "baseline": self.baseline,
            "status": self.status,
            "note": self.note,
            "profile": PROFILE_FILE,
            "findings": [asdict(finding) for finding in self.findings],
            "measured": self.measured,
        }


def psi(before: Sequence[int], now: Sequence[int], /) -> float:
    """Population stability index of two histograms over the same bins: the sum over bins of
    (now share - before share) · ln(now share / before share), shares floored at `PSI_FLOOR`."""
    before_total, now_total = sum(before), sum(now)
    total = 0.0
    for old, new in zip(before, now, strict=True):
        old_share = max(old / before_total, PSI_FLOOR)
        new_share = max(new / now_total, PSI_FLOOR)
        total += (new_share - old_share) * math.log(new_share / old_share)
    return total


def shares(counts: Mapping[str, int], /) -> dict[str, float]:
    """Each class's share of the rows."""
    total = sum(counts.values())
    return {name: count / total for name, count in counts.items()} if total else {}


def total_variation(before: Mapping[str, float], now: Mapping[str, float], /) -> float:
    """Half the summed absolute differences of two distributions over the union of classes."""
    names = dict.fromkeys([*before, *now])
    return sum(abs(now.get(name, 0.0) - before.get(name, 0.0)) for name in names) / 2


def latest_run(dataset_dir: Path, /) -> Path | None:
    """The published run folder `<dataset_dir>/latest` points at, if any."""
    link = dataset_dir / LATEST
    return link.resolve() if link.exists() else None


def drift_since_latest(
    frame: pl.DataFrame | pl.LazyFrame,
    profile: Mapping[str, Any],
    /,
    *,
    dataset_dir: Path,
    config: DriftConfig,
) -> Drift:
    """Compare the input (`frame`, profiled as `profile`) with the run `latest` points at;
    nothing to compare without `latest` or when it has no profile."""
    latest = latest_run(dataset_dir)
    if latest is None:
        return Drift(
            baseline=None,
            note="No run is published yet (no latest): nothing to compare; this run's "
            "profile is the next run's baseline",
        )
    baseline = read_profile(latest)
    if baseline is None:
        return Drift(
            baseline=None,
            note=f"Run {latest.name} (latest) has no {PROFILE_FILE} of this version (published "
            "before the drift guard, or by another version): nothing to compare; this run's "
            "profile is the next run's baseline",
        )
    rebinned = {}
    if config.distribution.severity != "off":
        edges = {
            name: entry["edges"]
            for name, entry in baseline["numeric"].items()
            if name in profile["numeric"]
        }
        rebinned = {name: item["counts"] for name, item in bin_counts(frame, edges).items()}
    return compare_profiles(
        profile, baseline, baseline_id=latest.name, rebinned=rebinned, config=config
    )


def compare_profiles(
    now: Mapping[str, Any],
    before: Mapping[str, Any],
    /,
    *,
    baseline_id: str,
    rebinned: Mapping[str, Sequence[int]],
    config: DriftConfig,
) -> Drift:
    """Run every check that is not `off` on two profiles.

    Args:
        now: This run's profile.
        before: The profile of run `baseline_id`.
        baseline_id: The run `before` is the profile of, for the messages.
        rebinned: This run's bin counts of each numeric feature over `before`'s bin edges.
        config: The drift section of the config.
    """
    findings: list[Finding] = []
    measured: dict[str, Any] = {}
    run = f"in run {baseline_id}"
    if config.columns.severity != "off":
        findings += _columns(now["schema"], before["schema"], run, config.columns.severity)
    if config.row_count.severity != "off" and before["rows"]:
        change = _round(abs(now["rows"] - before["rows"]) / before["rows"])
        measured["row_count"] = change
        threshold = config.row_count.threshold
        if change > threshold:
            findings.append(
                Finding(
                    check="row_count",
                    column=None,
                    subject="rows after validation",
                    severity=config.row_count.severity,
                    before=str(before["rows"]),
                    now=str(now["rows"]),
                    value=change,
                    threshold=threshold,
                    message=f"rows after validation were {before['rows']} {run}, "
                    f"{now['rows']} now (relative change {change:.4g} > "
                    f"drift.row_count.threshold {threshold:g})",
                )
            )
    label = now["label"]
    if config.classes.severity != "off":
        findings += _classes(
            now["class_counts"], before["class_counts"], label, run, config.classes.severity
        )
    if config.class_priors.severity != "off":
        prior_now, prior_before = shares(now["class_counts"]), shares(before["class_counts"])
        distance = _round(total_variation(prior_before, prior_now))
        measured["class_priors"] = distance
        threshold = config.class_priors.threshold
        if distance > threshold:
            moved = max(
                dict.fromkeys([*prior_before, *prior_now]),
                key=lambda name: abs(prior_now.get(name, 0.0) - prior_before.get(name, 0.0)),
            )
            old, new = prior_before.get(moved, 0.0), prior_now.get(moved, 0.0)
            findings.append(
                Finding(
                    check="class_priors",
                    column=label,
                    subject=f"class {moved!r}",
                    severity=config.class_priors.severity,
                    before=f"{old:.1%}",
                    now=f"{new:.1%}",
                    value=distance,
                    threshold=threshold,
                    message=f"the priors of label {label!r} moved: class {moved!r} was "
                    f"{old:.1%} of the rows {run}, {new:.1%} now (total variation "
                    f"{distance:.4g} > drift.class_priors.threshold {threshold:g})",
                )
            )
    if config.null_rate.severity != "off":
        findings += _null_rates(now, before, run, config, measured)
    if config.distribution.severity != "off":
        findings += _distributions(now, before, rebinned, run, config, measured)
    return Drift(
        baseline=baseline_id,
        note=f"Compared with run {baseline_id} (latest)",
        findings=tuple(findings),
        measured=measured,
    )


def _columns(
    now: Mapping[str, str], before: Mapping[str, str], run: str, severity: str
) -> list[Finding]:
    findings = []
    for name in [*before, *(name for name in now if name not in before)]:
        old, new = before.get(name), now.get(name)
        if old == new:
            continue
        if old is None:
            change = f"column {name!r} is new: absent {run}, {new} now"
        elif new is None:
            change = f"column {name!r} is gone: {old} {run}, absent now"
        else:
            change = f"column {name!r} changed dtype: {old} {run}, {new} now"
        findings.append(
            Finding(
                check="columns",
                column=name,
                subject=f"column {name!r}",
                severity=severity,
                before=old or "absent",
                now=new or "absent",
                message=change,
            )
        )
    return findings


def _classes(
    now: Mapping[str, int], before: Mapping[str, int], label: str, run: str, severity: str
) -> list[Finding]:
    findings = []
    for name in [*before, *(name for name in now if name not in before)]:
        if name in before and name in now:
            continue
        if name in before:
            old, new = f"{before[name]} rows", "absent"
            change = f"class {name!r} of label {label!r} vanished: {old} {run}, none now"
        else:
            old, new = "absent", f"{now[name]} rows"
            change = f"class {name!r} of label {label!r} appeared: none {run}, {new} now"
        findings.append(
            Finding(
                check="classes",
                column=label,
                subject=f"class {name!r}",
                severity=severity,
                before=old,
                now=new,
                message=change,
            )
        )
    return findings


def _null_rates(
    now: Mapping[str, Any],
    before: Mapping[str, Any],
    run: str,
    config: DriftConfig,
    measured: dict[str, Any],
) -> list[Finding]:
    threshold = config.null_rate.threshold
    changes = {
        name: _round(abs(rate - before["null_rates"][name]))
        for name, rate in now["null_rates"].items()
        if name in before["null_rates"]
    }
    measured["null_rate"] = changes
    findings = []
    for name, change in changes.items():
        if change <= threshold:
            continue
        old, new = before["null_rates"][name], now["null_rates"][name]
        findings.append(
            Finding(
                check="null_rate",
                column=name,
                subject=f"column {name!r}",
                severity=config.null_rate.severity,
                before=f"{old:.1%}",
                now=f"{new:.1%}",
                value=change,
                threshold=threshold,
                message=f"column {name!r} had {old:.1%} nulls among the rows read {run}, "
                f"{new:.1%} now (change {change:.4g} > drift.null_rate.threshold "
                f"{threshold:g})",
            )
        )
    return findings


def _distributions(
    now: Mapping[str, Any],
    before: Mapping[str, Any],
    rebinned: Mapping[str, Sequence[int]],
    run: str,
    config: DriftConfig,
    measured: dict[str, Any],
) -> list[Finding]:
    threshold = config.distribution.threshold
    indices = {
        name: _round(psi(before["numeric"][name]["counts"], counts))
        for name, counts in rebinned.items()
        if name in before["numeric"]
        and name in now["numeric"]
        and sum(counts)
        and sum(before["numeric"][name]["counts"])
    }
    measured["distribution"] = indices
    findings = []
    for name, index in indices.items():
        if index <= threshold:
            continue
        old, new = before["numeric"][name]["mean"], now["numeric"][name]["mean"]
        findings.append(
            Finding(
                check="distribution",
                column=name,
                subject=f"column {name!r}",
                severity=config.distribution.severity,
                before=f"mean {old:.6g}",
                now=f"mean {new:.6g}",
                value=index,
                threshold=threshold,
                message=f"the distribution of column {name!r} moved: mean {old:.6g} {run}, "
                f"{new:.6g} now (PSI {index:.4g} > drift.distribution.threshold {threshold:g})",
            )
        )
    return findings


def _round(value: float) -> float:
    return round(value, DIGITS)


def render_drift(drift: Drift, /) -> str:
    """The report's drift section (markdown): what was compared, each finding, and the
    largest value each check measured."""
    measured = drift.measured
    largest = {
        check: max(measured[check].items(), key=lambda item: item[1])
        if measured.get(check)
        else None
        for check in ("null_rate", "distribution")
    }
    # `fail` findings first; a wide table may drift in thousands of columns, and manifest.json
    # keeps every finding.
    ranked = sorted(drift.findings, key=lambda finding: finding.severity != "fail")
    return render(
        TEMPLATE,
        drift=drift,
        findings=ranked[:SHOWN_FINDINGS],
        more=max(0, len(ranked) - SHOWN_FINDINGS),
        row_count=measured.get("row_count"),
        class_priors=measured.get("class_priors"),
        largest=largest,
    )

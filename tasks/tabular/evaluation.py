"""Does rebalancing help on this table? A cross-validated comparison on the training rows.

One split's validation rows hold too few minority rows to tell samplers apart, so each arm
(no resampling, class weights, a sampler) is scored by repeated stratified k-fold
cross-validation on the original training rows, for a linear and a gradient-boosted model
(`tasks.run.classifiers`). A sampler runs inside an imbalanced-learn Pipeline: it resamples
a fold's training rows only, never its test rows. Every arm and model sees the same folds, so
each arm is compared with no resampling fold by fold (the corrected repeated k-fold t-test of
Nadeau & Bengio, 2003). Plain numpy, scikit-learn and imbalanced-learn: no polars, no Prefect.
"""

from __future__ import annotations

import importlib
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rebalance.errors import ConfigError
from tasks.run.classifiers import (
    METRIC_TITLES,
    METRICS,
    MODEL_TITLES,
    MODELS,
    average_precision_kind,
    make_model,
    minority_class,
    preload,
    score,
    single_threaded,
)

BASELINE = "no resampling"
CLASS_WEIGHTS = "class weights"
# The verdict weighs the threshold-free ranking (AP) and the default decision (balanced
# accuracy): rebalancing often moves the second and not the first.
VERDICT_METRICS = ("balanced_accuracy", "average_precision")
ALPHA = 0.05
HELPS = "helps"
HURTS = "hurts"
MIXED = "mixed"
CANNOT_TELL = "cannot tell at this data size"
FAILED = "failed"
TEST = (
    "corrected repeated k-fold t-test (Nadeau & Bengio 2003) of the per-fold differences from "
    f"{BASELINE}, p < {ALPHA}, on balanced accuracy and average precision"
)
# A table shrunk to fit the time budget keeps at least this many rows (one repeat always runs).
MIN_ROWS = 100
# Shrinking rows re-runs the pilot fold: not worth it to save less than a tenth.
SHRINK_BELOW = 0.9
DECIMALS = 4


@dataclass(frozen=True)
class Arm:
    """One way to train: no resampling, class weights, or a sampler inside the folds.

    Attributes:
        name: `no resampling`, `class weights`, or the sampler's name.
        make_sampler: Given a fold's training labels, a fresh imbalanced-learn sampler (its
            parameters may depend on the fold, e.g. k lowered for a small class); None for
            no resampling.
        class_weight: Passed to the estimator (`"balanced"`), or None.
    """

    name: str
    make_sampler: Callable[[np.ndarray], Any] | None = None
    class_weight: str | None = None


@dataclass(frozen=True)
class ArmResult:
    """One arm with one model: its per-fold scores, or why it failed, and its verdict."""

    arm: str
    model: str
    folds: dict[str, tuple[float, ...]] = field(default_factory=dict)
    failed: str | None = None
    # Per verdict metric: the mean paired difference from the baseline and its p-value.
    versus_baseline: dict[str, dict[str, float]] = field(default_factory=dict)
    verdict: str | None = None

    def mean(self, metric: str, /) -> float:
        """The metric's mean over the folds (NaN folds left out)."""
        return _nan_mean(self.folds.get(metric, ()))

    def std(self, metric: str, /) -> float:
        """The metric's standard deviation over the folds (ddof=1, NaN folds left out)."""
        values = _finite(self.folds.get(metric, ()))
        return float(np.std(values, ddof=1)) if values.size > 1 else float("nan")


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate_arms` compared, how, and what it found."""

    arms: tuple[str, ...]
    models: tuple[str, ...]
    results: tuple[ArmResult, ...]
    classes: dict[str, int]
    minority: str | None
    n_splits: int
    n_repeats: int
    repeats_run: int
    rows_available: int
    rows_used: int
    subsampled: str | None
    seconds: float
    time_budget_seconds: float
    seed: int
    notes: tuple[str, ...] = ()
    skipped: str | None = None

    def result(self, arm: str, model: str, /) -> ArmResult:
        """The result of `arm` with `model`."""
        for result in self.results:
            if (result.arm, result.model) == (arm, model):
                return result
        msg = f"no result for arm {arm!r} with model {model!r}; arms are {', '.join(self.arms)}"
        raise KeyError(msg)

    def as_manifest(self, *, pick: Pick | None = None) -> dict[str, Any]:
        """A JSON-friendly entry for manifest.json (rounded, in a stable order); the report is
        rendered from it (`tasks.tabular.evaluation_report`). `pick` adds the sampler choice."""
        entry: dict[str, Any] = {
            "skipped": self.skipped,
            "baseline": self.arms[0] if self.arms else BASELINE,
            "arms": list(self.arms),
            "models": list(self.models),
            "metrics": list(METRICS),
            "average_precision": average_precision_kind(len(self.classes)),
            "minority": self.minority,
            "classes": dict(self.classes),
            "folds": {
                "n_splits": self.n_splits,
                "n_repeats": self.n_repeats,
                "repeats_run": self.repeats_run,
                "total": self.n_splits * self.repeats_run,
                "seed": self.seed,
            },
            "rows": {
                "available": self.rows_available,
                "used": self.rows_used,
                "subsampled": self.subsampled,
            },
            "time_budget_seconds": self.time_budget_seconds,
            "seconds": round(self.seconds, 2),
            "test": TEST,
            "results": [_result_entry(result) for result in self.results],
            "notes": list(self.notes),
        }
        if pick is not None:
            entry["pick"] = pick.as_manifest()
        return entry


@dataclass(frozen=True)
class Candidate:
    """One candidate of `rebalance.sampler: auto` on the leaderboard."""

    name: str
    score: float
    spread: float
    verdicts: dict[str, str | None]
    failed: str | None = None


@dataclass(frozen=True)
class Pick:
    """The candidate `pick` chose, why, and every candidate's score."""

    winner: str
    reason: str
    metric: str
    leaderboard: tuple[Candidate, ...]

    def as_manifest(self) -> dict[str, Any]:
        """A JSON-friendly entry, in the candidates' order."""
        return {
            "winner": self.winner,
            "reason": self.reason,
            "metric": self.metric,
            "leaderboard": [
                {
                    "name": candidate.name,
                    "score": _rounded(candidate.score),
                    "spread": _rounded(candidate.spread),
                    "verdicts": dict(candidate.verdicts),
                    "failed": candidate.failed,
                }
                for candidate in self.leaderboard
            ],
        }


def evaluate_arms(
    x: np.ndarray,
    y: np.ndarray,
    /,
    *,
    arms: Sequence[Arm],
    numeric: Sequence[int],
    categorical: Sequence[int],
    models: Sequence[str] = MODELS,
    n_splits: int = 5,
    n_repeats: int = 3,
    time_budget_seconds: float = 60.0,
    max_rows: int = 20_000,
    seed: int,
) -> Evaluation:
    """Score every arm with every model by repeated stratified k-fold CV on these rows.

    `arms[0]` is the baseline (no resampling) the others are judged against. n_splits is
    lowered to the smallest class's row count; rows above `max_rows`, or more than the time
    budget allows (judged from a pilot fold), are subsampled with each class's share kept;
    further repeats stop when the next one would end past the budget (the first always runs).

    Args:
        x: The original training rows: a float matrix, or an object matrix of floats and strings.
        y: Their labels.
        arms: The ways to train, the baseline first.
        numeric: Column positions of numeric features.
        categorical: Column positions of categorical features.
        models: Which of `tasks.run.classifiers.MODELS` to fit.
        n_splits: Folds per repeat (RepeatedStratifiedKFold).
        n_repeats: Repeats, each with its own shuffle.
        time_budget_seconds: The time the whole evaluation should take.
        max_rows: More rows than this are subsampled (stratified) first.
        seed: Seeds the subsampling, the folds and the models.

    Returns:
        The per-fold scores, verdicts and what was done to fit the budget; `skipped` says why
        when a class has fewer than 2 rows (nothing is evaluated then).
    """
    started = time.perf_counter()
    _preload()  # inside the budget, outside the pilot fold that projects the rest
    y = np.asarray(y)
    counts = Counter(y.tolist())
    common = {
        "arms": tuple(arm.name for arm in arms),
        "models": tuple(models),
        "n_repeats": n_repeats,
        "rows_available": len(y),
        "time_budget_seconds": time_budget_seconds,
        "seed": seed,
    }
    minority = minority_class(y) if counts else None
    if len(counts) < 2 or counts[minority] < 2:
        return Evaluation(
            **common,
            results=(),
            classes=_class_counts(y),
            minority=None if minority is None else str(minority),
            n_splits=0,
            repeats_run=0,
            rows_used=0,
            subsampled=None,
            seconds=time.perf_counter() - started,
            skipped=_skip_reason(counts, minority),
        )
    notes: list[str] = []
    splits = max(2, min(n_splits, counts[minority]))
    if splits < n_splits:
        notes.append(
            f"{n_splits} folds lowered to {splits}: class {minority!r} has only "
            f"{counts[minority]} rows, and every fold needs one of each class"
        )
    run = _Run(
        x=x,
        y=y,
        arms=tuple(arms),
        models=tuple(models),
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        minority=minority,
        seed=seed,
        n_splits=splits,
        n_repeats=n_repeats,
    )
    rows, subsampled = np.arange(len(y)), None
    if len(y) > max_rows:
        rows = stratified_subsample(y, max_rows, min_per_class=splits, seed=seed)
        subsampled = (
            f"{len(y):,} rows are more than max_rows ({max_rows:,}): {len(rows):,} kept, stratified"
        )
    # The pilot, the first fold of every arm and model, shows what the budget allows: if
    # not even one repeat fits, fewer rows (it runs again on them); the repeats stop later.
    first = run.pilot(rows, time_left=time_budget_seconds - (time.perf_counter() - started))
    left = time_budget_seconds - (time.perf_counter() - started)
    fraction = left / (max(first.seconds, 1e-6) * splits)
    if fraction < SHRINK_BELOW and len(rows) > MIN_ROWS:
        before = len(rows)
        target = max(MIN_ROWS, math.floor(before * fraction))
        rows = rows[stratified_subsample(y[rows], target, min_per_class=splits, seed=seed)]
        shrunk = (
            f"{len(rows):,} of {before:,} kept, stratified, so one repeat fits the "
            f"{time_budget_seconds:g} s budget (the first fold took {first.seconds:.1f} s)"
        )
        subsampled = f"{subsampled}; then {shrunk}" if subsampled else shrunk
        first = run.pilot(rows, time_left=time_budget_seconds - (time.perf_counter() - started))
    scores, repeats_run = run.repeats(first, deadline=started + time_budget_seconds)
    if repeats_run < n_repeats:
        notes.append(
            f"stopped after {repeats_run} of {n_repeats} repeats: another would end past the "
            f"{time_budget_seconds:g} s budget"
        )
    notes.extend(run.notes())
    return Evaluation(
        **common | {"models": run.models},
        results=run.results(scores, repeats=repeats_run),
        classes=_class_counts(y[rows]),
        minority=str(minority),
        n_splits=splits,
        repeats_run=repeats_run,
        rows_used=len(rows),
        subsampled=subsampled,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def stratified_subsample(
    y: np.ndarray, size: int, /, *, min_per_class: int, seed: int
) -> np.ndarray:
    """Sorted positions of about `size` rows, each class keeping its share of `y`.

    A class keeps at least `min_per_class` rows where it has them (so every fold can hold
    one), so the total may exceed `size` by a few rows.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    kept = []
    for index in range(len(classes)):
        members = np.flatnonzero(inverse == index)
        share = round(size * counts[index] / len(y))
        quota = min(counts[index], max(share, min_per_class))
        kept.append(rng.choice(members, size=quota, replace=False))
    return np.sort(np.concatenate(kept))


def corrected_p_value(
    differences: Sequence[float] | np.ndarray, /, *, test_to_train: float
) -> float:
    """Two-sided p-value of the corrected repeated k-fold t-test (Nadeau & Bengio 2003).

    Folds share training rows, so their differences are correlated and the plain t-test is
    far too confident; the variance is multiplied by (1/J + n_test/n_train) instead of 1/J,
    with J − 1 degrees of freedom. NaN differences (a fold without a score) are left out;
    fewer than 2 give NaN. Identical differences give 1 when they are 0 and 0 otherwise.
    """
    from scipy import stats

    values = _finite(differences)
    folds = values.size
    if folds < 2:
        return float("nan")
    mean = float(values.mean())
    if np.allclose(values, values[0], rtol=0.0, atol=1e-12):
        return 1.0 if abs(mean) <= 1e-12 else 0.0
    variance = float(values.var(ddof=1)) * (1 / folds + test_to_train)
    statistic = mean / math.sqrt(variance)
    return float(2 * stats.t.sf(abs(statistic), folds - 1))


def verdict(versus_baseline: Mapping[str, Mapping[str, float]], /) -> str:
    """`helps`, `hurts`, `mixed` or `cannot tell at this data size`, from each verdict
    metric's mean difference from the baseline and its p-value (significant below ALPHA)."""
    better = worse = False
    for metric in VERDICT_METRICS:
        found = versus_baseline.get(metric)
        if not found or not found["p_value"] < ALPHA:  # NaN is not significant
            continue
        better |= found["difference"] > 0
        worse |= found["difference"] < 0
    if better and worse:
        return MIXED
    if better:
        return HELPS
    if worse:
        return HURTS
    return CANNOT_TELL


def pick(
    evaluation: Evaluation, /, *, candidates: Sequence[str], metric: str = "balanced_accuracy"
) -> Pick:
    """The simplest candidate whose score is within the best one's spread (one-standard-error
    rule), for `rebalance.sampler: auto`.

    A candidate's score is its mean `metric` averaged over the models, its spread the
    models' standard deviations averaged the same way. Candidates are given simplest first.

    Raises:
        ConfigError: a candidate is not one of the evaluated arms.
    """
    missing = [name for name in candidates if name not in evaluation.arms]
    if missing and not evaluation.skipped:
        msg = (
            f"rebalance.sampler auto: candidate {missing[0]!r} was not evaluated; "
            f"the arms are {', '.join(evaluation.arms)}"
        )
        raise ConfigError(msg)
    title = METRIC_TITLES[metric]
    if evaluation.skipped:
        board = tuple(
            Candidate(name, math.nan, math.nan, {}, failed=evaluation.skipped)
            for name in candidates
        )
        reason = (
            f"{candidates[0]} is the simplest candidate, and the cross-validation was "
            f"skipped: {evaluation.skipped}."
        )
        return Pick(candidates[0], reason, metric, board)
    board = tuple(_candidate(evaluation, name, metric) for name in candidates)
    scored = [item for item in board if item.failed is None and not math.isnan(item.score)]
    if not scored:
        reason = f"{candidates[0]} is the simplest candidate, and no candidate could be scored."
        return Pick(candidates[0], reason, metric, board)
    best = max(scored, key=lambda item: item.score)
    spread = 0.0 if math.isnan(best.spread) else best.spread
    winner = next(item for item in scored if item.score >= best.score - spread)
    models = " and ".join(MODEL_TITLES.get(name, name) for name in evaluation.models)
    if winner is best and winner is scored[0]:
        reason = (
            f"{winner.name} scores best, {winner.score:.3f} ± {winner.spread:.3f} {title} "
            f"(mean over {models}), and is the simplest candidate."
        )
    elif winner is best:
        simpler = max(item.score for item in scored[: scored.index(winner)])
        reason = (
            f"{winner.name} scores {winner.score:.3f} ± {winner.spread:.3f} {title} (mean over "
            f"{models}), more than its spread above every simpler candidate (at most "
            f"{simpler:.3f})."
        )
    else:
        reason = (
            f"{winner.name} scores {winner.score:.3f} {title} (mean over {models}), within the "
            f"spread of the best, {best.name} at {best.score:.3f} ± {best.spread:.3f}, and is "
            "simpler."
        )
    return Pick(winner.name, reason, metric, board)


@dataclass(frozen=True)
class _Pilot:
    """The first fold's scores and how long it took."""

    scores: dict[tuple[str, str], dict[str, float]]
    seconds: float


class _Run:
    """Fits every arm and model on one fold at a time; an arm that raises is failed from
    then on, the others go on."""

    def __init__(
        self,
        *,
        x: np.ndarray,
        y: np.ndarray,
        arms: tuple[Arm, ...],
        models: tuple[str, ...],
        numeric: tuple[int, ...],
        categorical: tuple[int, ...],
        minority: Any,
        seed: int,
        n_splits: int,
        n_repeats: int,
    ) -> None:
        self.x, self.y, self.arms, self.models = x, y, arms, models
        self.numeric, self.categorical = numeric, categorical
        self.minority, self.seed = minority, seed
        self.n_splits, self.n_repeats = n_splits, n_repeats
        self.folds: list[tuple[np.ndarray, np.ndarray]] = []
        self.failed: dict[str, str] = {}
        self.unconverged = 0
        # Models whose one repeat cannot fit the budget (a wide table's boosted trees), and
        # the seconds of each model's last fit, which tell.
        self.left_out: dict[str, str] = {}
        self.fit_seconds: dict[str, float] = {}

    def pilot(self, rows: np.ndarray, /, *, time_left: float) -> _Pilot:
        """Make the folds of these rows and run the first; an arm failed there stays failed
        only if these rows are kept (a new pilot forgets it). A model after the first whose
        baseline fit shows that one repeat would take more than `time_left` is left out
        before its other arms are fitted."""
        self.folds = _folds(
            self.y, rows, n_splits=self.n_splits, n_repeats=self.n_repeats, seed=self.seed
        )
        self.failed = {}
        started = time.perf_counter()
        scores = self.fold(*self.folds[0], index=0, time_left=time_left)
        return _Pilot(scores, time.perf_counter() - started)

    def repeats(self, first: _Pilot, /, *, deadline: float) -> tuple[list[dict], int]:
        """The pilot's repeat and the others, stopping before a repeat that would end past
        `deadline` (the first always runs); returns the folds' scores and the repeats run."""
        scores = [first.scores]
        took = [first.seconds]  # per repeat
        for index in range(1, len(self.folds)):
            repeat, within = divmod(index, self.n_splits)
            if within == 0:
                if time.perf_counter() + float(np.mean(took)) > deadline:
                    return scores, repeat
                took.append(0.0)
            started = time.perf_counter()
            scores.append(self.fold(*self.folds[index], index=index))
            took[-1] += time.perf_counter() - started
        return scores, self.n_repeats

    def fold(
        self, train: np.ndarray, test: np.ndarray, /, *, index: int, time_left: float | None = None
    ) -> dict:
        """(arm, model) → the fold's scores, for every arm that has not failed; with
        `time_left`, the models too slow for it are left out after the baseline's fits."""
        from sklearn.exceptions import ConvergenceWarning

        found: dict[tuple[str, str], dict[str, float]] = {}
        with single_threaded(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            for arm in self.arms:
                if arm.name in self.failed:
                    continue
                try:
                    for model in self.models:
                        began = time.perf_counter()
                        found[arm.name, model] = self._fit_and_score(arm, model, train, test)
                        self.fit_seconds[model] = time.perf_counter() - began
                except Exception as exc:  # a sampler that cannot run here fails its arm only
                    self.failed[arm.name] = f"fold {index + 1}: {_one_line(exc)}"
                    for model in self.models:
                        found.pop((arm.name, model), None)
                if time_left is not None and arm is self.arms[0]:
                    for model in self._too_slow(time_left):
                        found.pop((arm.name, model), None)
        self.unconverged += sum(issubclass(item.category, ConvergenceWarning) for item in caught)
        return found

    def _fit_and_score(
        self, arm: Arm, model: str, train: np.ndarray, test: np.ndarray
    ) -> dict[str, float]:
        from imblearn.pipeline import Pipeline

        estimator = make_model(
            model,
            numeric=self.numeric,
            categorical=self.categorical,
            class_weight=arm.class_weight,
            seed=self.seed,
        )
        if arm.make_sampler is not None:
            # imblearn's Pipeline resamples while fitting only: the test rows are never
            # resampled, and the sampler never sees them.
            sampler = arm.make_sampler(self.y[train])
            estimator = Pipeline([("sample", sampler), ("model", estimator)])
        estimator.fit(self.x[train], self.y[train])
        proba = estimator.predict_proba(self.x[test])
        return score(self.y[test], proba, estimator.classes_, minority=self.minority)

    def _too_slow(self, time_left: float) -> list[str]:
        """Leave out the models after the first whose one repeat (every arm on every fold,
        at their baseline fit's pace) would not fit `time_left`; the first model always
        stays, as the first repeat always runs."""
        fits = len(self.arms) * self.n_splits
        slow = [
            model
            for model in self.models[1:]
            if self.fit_seconds.get(model, 0.0) * fits > time_left
        ]
        for model in slow:
            seconds = self.fit_seconds[model]
            self.left_out[model] = (
                f"{MODEL_TITLES.get(model, model)} left out: one fit took {seconds:.1f} s, so "
                f"one repeat ({len(self.arms)} arms × {self.n_splits} folds, ~{seconds * fits:.0f}"
                f" s) would not fit the {time_left:.0f} s left of the budget; raise "
                "evaluate.time_budget_seconds or choose evaluate.models"
            )
        self.models = tuple(model for model in self.models if model not in self.left_out)
        return slow

    def notes(self) -> list[str]:
        """What the log and report should know about the fits."""
        notes = list(self.left_out.values())
        if self.unconverged:
            notes.append(
                f"the logistic regression reached max_iter without converging in "
                f"{self.unconverged} fits; its scores may be slightly low"
            )
        return notes

    def results(self, folds: list[dict], *, repeats: int) -> tuple[ArmResult, ...]:
        """Per model and arm: the per-fold scores and the verdict against the baseline."""
        used = self.folds[: repeats * self.n_splits]
        test_to_train = float(np.mean([len(test) / len(train) for train, test in used]))
        results = []
        baseline = self.arms[0].name
        for model in self.models:
            base = _fold_scores(folds, baseline, model)
            for position, arm in enumerate(self.arms):
                if arm.name in self.failed:
                    reason = self.failed[arm.name]
                    results.append(ArmResult(arm.name, model, failed=reason, verdict=FAILED))
                    continue
                scores = _fold_scores(folds, arm.name, model)
                compared: dict[str, dict[str, float]] = {}
                found = None
                if position and baseline not in self.failed:
                    for metric in VERDICT_METRICS:
                        difference = np.asarray(scores[metric]) - np.asarray(base[metric])
                        compared[metric] = {
                            "difference": _nan_mean(difference),
                            "p_value": corrected_p_value(difference, test_to_train=test_to_train),
                        }
                    found = verdict(compared)
                results.append(ArmResult(arm.name, model, scores, None, compared, found))
        return tuple(results)


def _skip_reason(counts: Counter, minority: Any) -> str:
    if len(counts) < 2:
        return "the training rows hold fewer than 2 classes; there is nothing to compare"
    return (
        f"class {minority!r} has {counts[minority]} training row; cross-validation needs at "
        "least 2 rows of every class"
    )


def _preload() -> None:
    for name in ("imblearn.pipeline", "scipy.stats", "sklearn.model_selection"):
        importlib.import_module(name)
    preload()


def _folds(
    y: np.ndarray, rows: np.ndarray, *, n_splits: int, n_repeats: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every fold as positions into the whole table (the first repeats do not depend on
    n_repeats, so stopping early keeps the same folds)."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    labels = y[rows]
    return [
        (rows[train], rows[test])
        for train, test in splitter.split(np.zeros((len(rows), 1)), labels)
    ]


def _fold_scores(folds: list[dict], arm: str, model: str) -> dict[str, tuple[float, ...]]:
    return {
        metric: tuple(
            fold[arm, model][metric] if (arm, model) in fold else math.nan for fold in folds
        )
        for metric in METRICS
    }


def _candidate(evaluation: Evaluation, name: str, metric: str) -> Candidate:
    results = [evaluation.result(name, model) for model in evaluation.models]
    failed = next((result.failed for result in results if result.failed), None)
    verdicts = {result.model: result.verdict for result in results}
    if failed:
        return Candidate(name, math.nan, math.nan, verdicts, failed=failed)
    means = [result.mean(metric) for result in results]
    spreads = [result.std(metric) for result in results]
    # Rounded as the manifest shows them, so the reason quotes the leaderboard's figures.
    score, spread = (round(_nan_mean(values), DECIMALS) for values in (means, spreads))
    return Candidate(name, score, spread, verdicts)


def _result_entry(result: ArmResult) -> dict[str, Any]:
    return {
        "model": result.model,
        "arm": result.arm,
        "failed": result.failed,
        "metrics": {
            metric: {"mean": _rounded(result.mean(metric)), "std": _rounded(result.std(metric))}
            for metric in METRICS
        }
        if result.failed is None
        else {},
        "versus_baseline": {
            metric: {name: _rounded(value) for name, value in found.items()}
            for metric, found in result.versus_baseline.items()
        },
        "verdict": result.verdict,
    }


def _class_counts(y: np.ndarray) -> dict[str, int]:
    counts = Counter(np.asarray(y).tolist())
    return {str(name): counts[name] for name in sorted(counts, key=str)}


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def _nan_mean(values: Sequence[float] | np.ndarray) -> float:
    finite = _finite(values)
    return float(finite.mean()) if finite.size else float("nan")


def _rounded(value: float) -> float | None:
    """JSON has no NaN: a missing score is null."""
    return None if value is None or math.isnan(value) else round(float(value), DECIMALS)


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__

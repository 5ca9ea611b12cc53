"""Other samplers: each imblearn sampler's time against its own nearest-neighbour search.

    python benchmarks/sampler_profile.py [--rows 300000] [--rounds 1] [--n-jobs -1] [--alone]
                                         [--profile]

By default 300,000 rows (1,000,000 with BENCH_FULL=1), 1 round, and the ratio inside each
sampler run (the search's clocked time against the whole run): about 40 s here (2 min at
1,000,000 rows). TomekLinks and EditedNearestNeighbours and their searches run with `n_jobs=-1`
(every core, the sklearn idiom for a big search): 1.5-1.7x less time than one job on this 2-core
machine, at 300,000 rows. The rest of a sampler's work stays single-threaded, so the ratio can
only grow with it. (ADASYN in imblearn 0.14 has no `n_jobs`: one job.) `--alone` also runs each
search on its own after the sampler, checks it makes the same calls, and gives the ratio against
it (about twice as long); ClusterCentroids always does. `--profile` adds one cProfile'd
fit_resample per sampler after its timed rounds. Issue 6: a sampler that takes more than 3× its
own nearest-neighbour (NN) search gets a vectorised subclass, as SMOTE, SMOTENC and SMOTEN have
(tasks/tabular/vectorised_smote.py).

Data: ROWS rows × 5 normal columns, 3% minority shifted by +0.5 (as benchmarks/tabular.py),
fixed seed, float64 as `rebalance` hands it to imblearn. Five columns as in
benchmarks/smotenc.py: sklearn's 'auto' picks a kd-tree up to 15 columns, the cheapest search
there is, so whatever a sampler does besides its search weighs most here (more columns make
the search slower and the ratio closer to 1). At 20 columns it would be a brute-force
1M × 1M distance search: hours on this machine.

For each of TomekLinks, EditedNearestNeighbours and ADASYN (default parameters), each round
times imblearn's `fit_resample`, then the NN search it performs, run alone: the same
NearestNeighbors fit and kneighbors calls, same n_neighbors, on the same rows (read from
imblearn 0.14.2's `_fit_resample`). During both, NearestNeighbors.fit and .kneighbors are
clocked, which splits the sampler's own time into search and the rest, and checks that the
replica makes the same calls (method, input shape, n_neighbors) as the sampler.

ClusterCentroids' default soft voting searches no neighbours: it is one KMeans fit per
under-sampled class with n_clusters = the minority count, whose centres are the output.
Default KMeans there is out of reach (97,000 rows × 3,000 clusters took 145 s; 1M rows ×
30,000 clusters is about 100× the work per iteration), and so, for a benchmark, is imblearn's
documented faster estimator, MiniBatchKMeans(n_init=1): one fit on the 970,000 majority rows
with 30,000 clusters took 1,111 s here (985 s of it k-means++ seeding on 90,000 rows; load
average 4), measured once outside this script. So ClusterCentroids runs with MiniBatchKMeans
at CC_ROWS rows (100,000 by default, in both modes), compared with that estimator's fit
alone; the centres must be identical.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import full, machine, spread  # noqa: E402

SEED = 0
MINORITY = 0.03
N_FEATURES = 5
TARGET = 3.0  # a sampler above 3× its own NN search gets a vectorised subclass
LARGE = 1_000_000
# Under `make bench` (20 minutes for every script): the search's share, which is what the
# ratio measures, is already 92-99% at this size.
DEFAULT_ROWS = 300_000
CC_ROWS = 100_000


def make_data(rows: int):
    import numpy as np

    rng = np.random.default_rng(SEED)
    y = (rng.random(rows) < MINORITY).astype(np.int64)
    X = rng.normal(size=(rows, N_FEATURES)) + y[:, None] * 0.5
    return X, y


@dataclass
class Clock:
    """Seconds spent in the clocked methods, and the calls made (for comparing two runs)."""

    seconds: float = 0.0
    calls: list[tuple] | None = None


@contextmanager
def clocked(cls: type, methods: tuple[str, ...]) -> Iterator[Clock]:
    """Time every call of `cls.<method>` made inside the block (nested calls count once)."""
    clock = Clock(calls=[])
    originals = {name: getattr(cls, name) for name in methods}
    depth = [0]

    def wrap(name, original):
        def timed(self, X=None, *args, **kwargs):
            shape = None if X is None else X.shape
            size = getattr(self, "n_neighbors", getattr(self, "n_clusters", None))
            clock.calls.append((name, shape, size))
            depth[0] += 1
            start = time.perf_counter()
            try:
                return original(self, X, *args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    clock.seconds += time.perf_counter() - start

        return timed

    for name, original in originals.items():
        setattr(cls, name, wrap(name, original))
    try:
        yield clock
    finally:
        for name, original in originals.items():
            setattr(cls, name, original)


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # the search (or fit) it is compared with, in words
    sampler: Callable[[], object]
    alone: Callable  # (X, y) -> None: that search (or fit) run alone
    clock: tuple[type, tuple[str, ...]]
    rows: int


def _cases(rows: int, cc_rows: int, *, n_jobs: int) -> list[Case]:
    import numpy as np
    from imblearn.over_sampling import ADASYN
    from imblearn.under_sampling import ClusterCentroids, EditedNearestNeighbours, TomekLinks
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.neighbors import NearestNeighbors

    nn_methods = (NearestNeighbors, ("fit", "kneighbors"))

    def tomek_search(X, y):
        # TomekLinks._fit_resample: the nearest other row of every row.
        nn = NearestNeighbors(n_neighbors=2, n_jobs=n_jobs)
        nn.fit(X)
        nn.kneighbors(X, return_distance=False)

    def enn_search(X, y):
        # check_neighbors_object("n_neighbors", 3, additional_neighbor=1): 4 neighbours,
        # fitted on every row, queried with the rows of each cleaned class ('auto' cleans
        # every class but the minority: here the majority, class 0).
        nn = NearestNeighbors(n_neighbors=4, n_jobs=n_jobs)
        nn.fit(X)
        nn.kneighbors(X[np.flatnonzero(y == 0)], return_distance=False)

    def adasyn_search(X, y):
        # n_neighbors=5 plus the row itself; first over every row (the share of other
        # classes around each minority row), then within the minority (whom to interpolate to).
        X_class = X[np.flatnonzero(y == 1)]
        nn = NearestNeighbors(n_neighbors=6)
        nn.fit(X)
        nn.kneighbors(X_class, return_distance=False)
        nn.fit(X_class)
        nn.kneighbors(X_class, return_distance=False)

    def kmeans_fit(X, y):
        # One cluster per minority row, over the majority rows: ClusterCentroids' only work.
        estimator = MiniBatchKMeans(n_init=1, random_state=SEED)
        estimator.set_params(n_clusters=int(np.sum(y == 1)))
        return estimator.fit(X[np.flatnonzero(y == 0)])

    return [
        Case(
            "TomekLinks",
            "NearestNeighbors(n_neighbors=2) fit and queried on every row",
            lambda: TomekLinks(n_jobs=n_jobs),
            tomek_search,
            nn_methods,
            rows,
        ),
        Case(
            "EditedNearestNeighbours",
            "NearestNeighbors(n_neighbors=4) fit on every row, queried with the majority",
            lambda: EditedNearestNeighbours(n_jobs=n_jobs),
            enn_search,
            nn_methods,
            rows,
        ),
        Case(
            "ADASYN",
            "NearestNeighbors(n_neighbors=6): every row queried with the minority, "
            "then the minority with itself",
            lambda: ADASYN(random_state=SEED),
            adasyn_search,
            nn_methods,
            rows,
        ),
        Case(
            "ClusterCentroids",
            "MiniBatchKMeans(n_init=1, n_clusters=minority count) fit on the majority "
            "(soft voting: no NN search)",
            lambda: ClusterCentroids(
                estimator=MiniBatchKMeans(n_init=1, random_state=SEED), random_state=SEED
            ),
            kmeans_fit,
            (MiniBatchKMeans, ("fit",)),
            cc_rows,
        ),
    ]


def _profile(case: Case, X, y) -> str:
    """cProfile of one fit_resample: the functions with the most time of their own."""
    profiler = cProfile.Profile()
    profiler.enable()
    case.sampler().fit_resample(X, y)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(8)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return "\n".join(f"    {line}" for line in lines[start:] if line.strip())


def run_case(case: Case, rounds: int, *, profile: bool, alone: bool) -> float:
    """Time one sampler against its own search; returns the seconds spent in cProfile.

    With `alone`, the search also runs on its own after each sampler run (the same calls,
    checked), which doubles the time; without it the ratio is the one inside the run.
    """
    import numpy as np

    X, y = make_data(case.rows)
    cls, methods = case.clock
    total, inside, seconds_alone, same_calls = [], [], [], True
    for _ in range(rounds):
        with clocked(cls, methods) as clock:
            start = time.perf_counter()
            sampler = case.sampler()
            X_res, _ = sampler.fit_resample(X, y)
            total.append(time.perf_counter() - start)
        inside.append(clock.seconds)
        sampler_calls = clock.calls
        if alone:
            with clocked(cls, methods) as clock:
                start = time.perf_counter()
                fitted = case.alone(X, y)
                seconds_alone.append(time.perf_counter() - start)
            same_calls &= clock.calls == sampler_calls
            if fitted is not None:  # ClusterCentroids: its output is the estimator's centres
                centres = fitted.cluster_centers_
                same_calls &= np.array_equal(X_res[: centres.shape[0]], centres)
        del X_res
    # The same ratio within each sampler run, which other jobs' load cannot skew.
    within = statistics.median(t / s for t, s in zip(total, inside, strict=True))
    ratio = statistics.median(total) / statistics.median(seconds_alone) if alone else within
    rest = [t - s for t, s in zip(total, inside, strict=True)]
    print(f"{case.name}: {case.rows:,} rows, {int(y.sum()):,} minority")
    print(f"  compared with: {case.what}")
    print(f"  imblearn fit_resample:  {spread(total)}")
    print(f"    inside it, that work: {spread(inside)}; the rest: {spread(rest)}")
    if alone:
        print(f"  that work alone:        {spread(seconds_alone)}; same calls/output: {same_calls}")
    verdict = "a vectorised subclass is due" if ratio > TARGET else "no subclass needed"
    print(
        f"  RATIO {case.name.lower()} {case.rows:,} rows sampler/own search: {ratio:.2f}× "
        f"(inside the same run: {within:.2f}×; > {TARGET:.0f}× calls for a vectorised "
        f"subclass): {verdict}"
    )
    if not profile:
        return 0.0
    start = time.perf_counter()
    print("  cProfile of one more fit_resample, by own time:")
    print(_profile(case, X, y))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        default=LARGE if full() else DEFAULT_ROWS,
        help="default 300000; 1000000 with BENCH_FULL=1",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--alone", action="store_true", help="also time each search alone")
    parser.add_argument("--cc-rows", type=int, default=CC_ROWS)
    parser.add_argument(
        "--n-jobs", type=int, default=-1, help="n_jobs of TomekLinks and ENN (-1: every core)"
    )
    parser.add_argument("--only", help="comma-separated sampler names (default: all four)")
    parser.add_argument("--profile", action="store_true", help="add a cProfile per sampler")
    args = parser.parse_args()

    print("== Other samplers: imbalanced-learn's fit_resample vs its own NN search ==")
    print(machine())
    print(
        f"{N_FEATURES} normal columns, {MINORITY:.0%} minority, seed {SEED}, float64; "
        f"TomekLinks, EditedNearestNeighbours and their searches with n_jobs={args.n_jobs}"
    )
    # Warm-up on small data: lazy imports and first-call costs land outside the rounds.
    small = _cases(3_000, 3_000, n_jobs=args.n_jobs)
    X, y = make_data(3_000)
    for case in small:
        case.sampler().fit_resample(X, y)
    only = {name.lower() for name in args.only.split(",")} if args.only else None
    started, profiling = time.perf_counter(), 0.0
    for case in _cases(args.rows, args.cc_rows, n_jobs=args.n_jobs):
        if only is None or case.name.lower() in only:
            # ClusterCentroids' "search" is its estimator's fit: compared alone, centres checked.
            alone = args.alone or case.name == "ClusterCentroids"
            profiling += run_case(case, args.rounds, profile=args.profile, alone=alone)
    took = time.perf_counter() - started
    print(f"took {took:.0f} s" + (f" ({profiling:.0f} s of it cProfile)" if profiling else ""))


if __name__ == "__main__":
    main()

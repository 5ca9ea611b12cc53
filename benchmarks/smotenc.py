"""SMOTENC: our vectorised subclass against imbalanced-learn's, same data, same seed.

    python benchmarks/smotenc.py [--sizes 100000] [--rounds 3] [--rounds-large 1]
    BENCH_FULL=1 python benchmarks/smotenc.py       # adds 1,000,000 rows (~4 min here)

Data per size: 5 numeric columns and 3 categorical ones (4 strings, 12 strings, a bool),
3% minority, fixed seed, as the object matrix `rebalance` hands to imblearn. Each round
runs imblearn's SMOTENC and ours alternately in this process and checks that X and y are
identical (np.array_equal); it also reports the share of ours' time spent in its
nearest-neighbour search and how many rows that search left to sklearn's own (the rows
whose neighbour order it could not certify). Sizes from 1,000,000 rows run
`--rounds-large` rounds: one imblearn run takes 2-8 minutes there (most of it in
sklearn's sparse brute-force neighbour search), so `make bench` runs them only with
BENCH_FULL=1. Target (issue 6): ours ≥ 10× faster at 100k and 1M rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import machine, spread  # noqa: E402

SEED = 0
MINORITY = 0.03
TARGET = 10.0
LARGE = 1_000_000


def make_data(rows: int):
    import numpy as np

    rng = np.random.default_rng(SEED)
    X = np.empty((rows, 8), dtype=object)
    X[:, :5] = rng.normal(size=(rows, 5))
    X[:, 5] = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), rows)
    X[:, 6] = rng.choice(np.array([f"level{i}" for i in range(12)], dtype=object), rows)
    X[:, 7] = rng.random(rows) < 0.3
    y = (rng.random(rows) < MINORITY).astype(np.int64)
    return X, y


def _timed(sampler, X, y):
    start = time.perf_counter()
    result = sampler.fit_resample(X, y)
    return time.perf_counter() - start, result


class _NeighbourSearch:
    """While entered, wraps ours' neighbour search: its seconds, rows, and the rows that
    sklearn's own search answered."""

    def __init__(self, module):
        self.module, self.search = module, module._class_neighbours
        self.seconds, self.rows, self.fallback = 0.0, 0, 0

    def __enter__(self):
        self.module._class_neighbours = self
        return self

    def __exit__(self, *exc_info):
        self.module._class_neighbours = self.search

    def __call__(self, nn, X_class, **kwargs):
        start = time.perf_counter()
        neighbours, fallback = self.search(nn, X_class, **kwargs)
        self.seconds += time.perf_counter() - start
        self.rows += X_class.shape[0]
        self.fallback += fallback.size
        return neighbours, fallback


def main() -> None:
    import numpy as np
    from imblearn.over_sampling import SMOTENC

    import tasks.vectorised_smote as vectorised
    from tasks.vectorised_smote import VectorisedSMOTENC

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    full = os.environ.get("BENCH_FULL") == "1"
    parser.add_argument("--sizes", default="100000,1000000" if full else "100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rounds-large", type=int, default=1)
    args = parser.parse_args()

    print("== SMOTENC: vectorised subclass vs imbalanced-learn ==")
    print(machine())
    kwargs = {"categorical_features": [5, 6, 7], "random_state": SEED}
    # Warm-up on small data: lazy imports and first-call costs land outside the rounds.
    small_X, small_y = make_data(2_000)
    SMOTENC(**kwargs).fit_resample(small_X, small_y)
    VectorisedSMOTENC(**kwargs).fit_resample(small_X, small_y)
    for rows in (int(size) for size in args.sizes.split(",")):
        X, y = make_data(rows)
        rounds = args.rounds_large if rows >= LARGE else args.rounds
        theirs, ours, identical = [], [], True
        search = _NeighbourSearch(vectorised)
        for _ in range(rounds):
            seconds, (expected_X, expected_y) = _timed(SMOTENC(**kwargs), X, y)
            theirs.append(seconds)
            with search:
                seconds, (got_X, got_y) = _timed(VectorisedSMOTENC(**kwargs), X, y)
            ours.append(seconds)
            identical &= np.array_equal(got_X, expected_X) and np.array_equal(got_y, expected_y)
            del expected_X, expected_y, got_X, got_y
        ratio = statistics.median(theirs) / statistics.median(ours)
        print(
            f"{rows:,} rows × 8 columns (5 numeric, 3 categorical), {MINORITY:.0%} minority, "
            f"{int(y.sum()):,} minority rows"
        )
        print(f"  imblearn SMOTENC: {spread(theirs)}")
        print(f"  ours:             {spread(ours)}")
        print(
            f"  ours' neighbour search: {search.seconds / rounds:.2f} s a round, "
            f"{search.seconds / sum(ours):.0%} of ours; rows left to sklearn's search: "
            f"{search.fallback // rounds:,} of {search.rows // rounds:,}"
        )
        print(
            f"  RATIO smotenc {rows:,} rows imblearn/ours: {ratio:.1f}× (target ≥ {TARGET:.0f}×) "
            f"{'MET' if ratio >= TARGET else 'MISSED'}; identical output: {identical}"
        )
    if not full and "--sizes" not in sys.argv:
        print("1,000,000 rows skipped (imblearn alone takes minutes): BENCH_FULL=1 adds them")


if __name__ == "__main__":
    main()

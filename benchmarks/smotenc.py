"""SMOTENC: our vectorised subclass against imbalanced-learn's, same data, same seed.

    python benchmarks/smotenc.py [--sizes 100000] [--rounds 3] [--rounds-large 1]
    BENCH_FULL=1 python benchmarks/smotenc.py        # 100,000 and 1,000,000 rows (~3 min here)
    python benchmarks/smotenc.py --ours-only         # ours alone: its time and its parts

Data per size: 5 numeric columns and 3 categorical ones (4 strings, 12 strings, a bool),
3% minority, fixed seed, as the object matrix `rebalance` hands to imblearn. Each round
runs imblearn's SMOTENC and ours alternately in this process and checks that X and y are
identical (np.array_equal). For ours it also reports where the time goes: encoding
(fitting the one-hot encoder and the category codes), the per-class matrices, the
nearest-neighbour search, the category votes, building the output matrix, and the rest
(imblearn's input checks, the float conversion of the numeric columns, the draws and the
interpolation); and how many rows the search left to sklearn's own (the rows whose
neighbour order it could not certify). Sizes from 1,000,000 rows run `--rounds-large`
rounds: one imblearn run takes 2-8 minutes there (most of it in sklearn's sparse
brute-force neighbour search). Target (issue 6): ours ≥ 10× faster at 100k and 1M rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import full, machine, spread  # noqa: E402

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


# Ours' parts: the functions of tasks.tabular.vectorised_smote that do each one.
PARTS = {
    "encoding": "_category_codes",
    "class matrices": "_class_matrix",
    "neighbour search": "_class_neighbours",
    "votes": "_most_voted",
    "output": "_resampled_matrix",
}


class _Parts:
    """While entered, times each of ours' parts (`PARTS`) and counts the rows of the
    neighbour search and those that sklearn's own search answered."""

    def __init__(self, module):
        self.module = module
        self.functions = {name: getattr(module, name) for name in PARTS.values()}
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.rows, self.fallback = 0, 0

    def __enter__(self):
        for part, name in PARTS.items():
            setattr(self.module, name, self._timed(part, self.functions[name]))
        return self

    def __exit__(self, *exc_info):
        for name, function in self.functions.items():
            setattr(self.module, name, function)

    def _timed(self, part, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = function(*args, **kwargs)
            self.seconds[part] += time.perf_counter() - start
            if part == "neighbour search":
                self.rows += args[1].shape[0]
                self.fallback += result[1].size
            return result

        return timed


def main() -> None:
    import numpy as np
    from imblearn.over_sampling import SMOTENC

    import tasks.tabular.vectorised_smote as vectorised
    from tasks.tabular.vectorised_smote import VectorisedSMOTENC

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=f"100000,{LARGE}" if full() else "100000",
        help="comma-separated row counts (default 100000; with BENCH_FULL=1 also 1000000)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rounds-large", type=int, default=1)
    parser.add_argument(
        "--ours-only", action="store_true", help="time ours alone (no ratio, no identity check)"
    )
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
        parts = _Parts(vectorised)
        for _ in range(rounds):
            if not args.ours_only:
                seconds, (expected_X, expected_y) = _timed(SMOTENC(**kwargs), X, y)
                theirs.append(seconds)
            with parts:
                seconds, (got_X, got_y) = _timed(VectorisedSMOTENC(**kwargs), X, y)
            ours.append(seconds)
            if not args.ours_only:
                identical &= np.array_equal(got_X, expected_X) and np.array_equal(got_y, expected_y)
                del expected_X, expected_y
            del got_X, got_y
        print(
            f"{rows:,} rows × 8 columns (5 numeric, 3 categorical), {MINORITY:.0%} minority, "
            f"{int(y.sum()):,} minority rows"
        )
        if not args.ours_only:
            print(f"  imblearn SMOTENC: {spread(theirs)}")
        print(f"  ours:             {spread(ours)}")
        rest = sum(ours) - sum(parts.seconds.values())
        print(
            "  ours' parts, s a round: "
            + ", ".join(
                f"{part} {seconds / rounds:.2f}"
                for part, seconds in [*parts.seconds.items(), ("rest", rest)]
            )
        )
        print(
            f"  rows left to sklearn's neighbour search: "
            f"{parts.fallback // rounds:,} of {parts.rows // rounds:,}"
        )
        if args.ours_only:
            continue
        ratio = statistics.median(theirs) / statistics.median(ours)
        print(
            f"  RATIO smotenc {rows:,} rows imblearn/ours: {ratio:.1f}× (target ≥ {TARGET:.0f}×) "
            f"{'MET' if ratio >= TARGET else 'MISSED'}; identical output: {identical}"
        )


if __name__ == "__main__":
    main()

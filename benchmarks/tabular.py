"""Tables: `rebalance run` end to end against the classic pandas + sklearn + imblearn script.

    python benchmarks/tabular.py [--rows 1000000] [--rounds 2] [--workdir DIR]

Data: ROWS rows × 20 numeric columns, 3% minority, fixed seed, written once as CSV.
Baseline (the script a practitioner writes): pandas read_csv, a dropna check, sklearn's
stratified train_test_split 70/15/15, imblearn SMOTE on train, to_csv of the three splits.
Ours: `python -m rebalance.cli run` (Prefect's embedded server started by the command,
Great Expectations null check, report, parquet), timed from process start to exit.
Both run as child processes, alternately, ROUNDS times each. Targets (issue 6): our wall
time ≤ 0.5× the baseline's, our peak RSS ≤ 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import check, machine, measure, python, spread

ROOT = Path(__file__).resolve().parent.parent
N_FEATURES = 20
MINORITY = 0.03
SEED = 0
TARGET_RATIO = 0.5
TARGET_RSS_MIB = 1.5 * 1024


def make_csv(path: Path, rows: int) -> None:
    """ROWS × 20 float columns (6 decimals, as exported data usually is) and a 0/1 label."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    label = (rng.random(rows) < MINORITY).astype(np.int64)
    features = rng.normal(size=(rows, N_FEATURES)) + label[:, None] * 0.5
    frame = pl.DataFrame(
        {f"f{i:02d}": np.round(features[:, i], 6) for i in range(N_FEATURES)}
    ).with_columns(pl.Series("label", label))
    frame.write_csv(path)


def baseline(source: str, out_dir: str) -> None:
    """The classic script, as a practitioner writes it."""
    import pandas as pd
    from imblearn.over_sampling import SMOTE
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(source)
    if frame.isna().any().any():
        frame = frame.dropna()
    X, y = frame.drop(columns="label"), frame["label"]
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, test_size=0.30, stratify=y, random_state=SEED
    )
    X_val, X_test, y_val, y_test = train_test_split(
        X_rest, y_rest, test_size=0.50, stratify=y_rest, random_state=SEED
    )
    X_res, y_res = SMOTE(random_state=SEED).fit_resample(X_train, y_train)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X_res.assign(label=y_res).to_csv(out / "train.csv", index=False)
    X_val.assign(label=y_val).to_csv(out / "val.csv", index=False)
    X_test.assign(label=y_test).to_csv(out / "test.csv", index=False)


def write_config(path: Path, source: Path, output: Path) -> None:
    config = f"""name: bench
modality: tabular
source: {source}
label: label
validation:
  null_policy: fail
split:
  fractions: {{train: 0.7, val: 0.15, test: 0.15}}
  seed: {SEED}
rebalance:
  sampler: SMOTE
  params: {{}}
# The classic script cross-validates nothing: compare like with like.
evaluate: {{enabled: false}}
output: {output}
"""
    path.write_text(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and outputs here")
    args = parser.parse_args()

    if args.workdir is None:
        # Data and outputs take about 1 GB: remove them unless a folder was asked for.
        with tempfile.TemporaryDirectory(prefix="rebalance-bench-") as scratch:
            run(args, Path(scratch))
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args, args.workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    """Build the data once in workdir, then alternate baseline and ours for the rounds."""
    source = workdir / f"table_{args.rows}.csv"
    if not source.exists():
        make_csv(source, args.rows)
    config = workdir / "bench.yaml"
    write_config(config, source, workdir / "outputs")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}

    print("== Tables: rebalance run vs classic pandas/sklearn/imblearn script ==")
    print(machine())
    size_mib = source.stat().st_size / 2**20
    print(
        f"data: {args.rows:,} rows × {N_FEATURES} numeric columns, {MINORITY:.0%} minority, "
        f"SMOTE; CSV {size_mib:.0f} MiB"
    )
    ours_runs, base_runs, timings = [], [], []
    for round_index in range(args.rounds):
        base = measure(
            [python(), __file__, "--baseline", str(source), str(workdir / "baseline")], env=env
        )
        check(base, "baseline")
        ours = measure([python(), "-m", "rebalance.cli", "run", str(config), "--force"], env=env)
        check(ours, "rebalance run")
        run_dir = Path(ours.stdout.strip().splitlines()[-1])
        manifest = json.loads((run_dir / "manifest.json").read_text())
        timings.append(manifest.get("timings_seconds", {}))
        base_runs.append(base)
        ours_runs.append(ours)
        print(
            f"round {round_index + 1}: baseline {base.wall_s:.2f} s, ours {ours.wall_s:.2f} s, "
            f"ratio {ours.wall_s / base.wall_s:.2f}"
        )

    base_wall = [run.wall_s for run in base_runs]
    ours_wall = [run.wall_s for run in ours_runs]
    ratio = statistics.median(ours_wall) / statistics.median(base_wall)
    ours_rss = max(run.max_rss_mib for run in ours_runs)
    ours_tree = max(run.tree_rss_mib for run in ours_runs)
    base_rss = max(run.max_rss_mib for run in base_runs)
    print(f"baseline wall: {spread(base_wall)}; peak RSS {base_rss:.0f} MiB")
    print(
        f"ours wall:     {spread(ours_wall)}; peak RSS {ours_rss:.0f} MiB "
        f"(largest process), {ours_tree:.0f} MiB (CLI + Prefect server, summed)"
    )
    steps = {name: statistics.median(t.get(name, 0.0) for t in timings) for name in timings[0]}
    print(
        "ours, median seconds per step (manifest timings_seconds): "
        + ", ".join(f"{name} {value:.2f}" for name, value in steps.items())
    )
    print(
        f"RATIO tables wall ours/baseline: {ratio:.2f} (target ≤ {TARGET_RATIO}) "
        f"{'MET' if ratio <= TARGET_RATIO else 'MISSED'}"
    )
    print(
        f"peak RSS ours: {ours_rss:.0f} MiB (target ≤ {TARGET_RSS_MIB:.0f}) "
        f"{'MET' if ours_rss <= TARGET_RSS_MIB else 'MISSED'}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline":
        baseline(sys.argv[2], sys.argv[3])
    else:
        main()

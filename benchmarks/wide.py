"""Wide tables: `rebalance run` on 300 rows × 1,000 and 4,000 columns, time per cell per step.

    python benchmarks/wide.py [--rows 300] [--widths 1000 4000] [--evaluate] [--workdir DIR]

Data: ROWS rows × WIDTH float columns (6 decimals), a 0/1 label with 10% minority, one null
in every 1,000th column (validation.null_policy: drop removes those rows), fixed seed, CSV.
Baseline (the classic script, as in benchmarks/tabular.py, on polars): read_csv, a null check
and drop, sklearn's stratified split 70/15/15, imblearn SMOTE on train, write the three
splits as parquet. Ours: `python -m rebalance.cli run --force` (Prefect's embedded server,
Great Expectations null check and Data Docs, drift profile, report, verify, parquet), timed
from process start to exit, and its steps from manifest.json's `timings_seconds`.

Both run as child processes, one after the other, once per width. What it prints: wall time
and microseconds per cell for each, and per step of ours; linear means the microseconds per
cell stay about flat as the width grows (the ratio of the widest's to the narrowest's is
printed: ≤ 1.5 is "linear"). The evaluate step (cross-validated comparison of arms) is off
unless `--evaluate`: one gradient-boosted fit on 165 rows took 30 s at 1,000 columns and
100 s at 5,000 (one core, a loaded machine), and the step makes 15 to 30 of them, so it alone
takes minutes at 4,000 columns and would hide the other steps (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import check, machine, measure, python, working_folder

ROOT = Path(__file__).resolve().parent.parent
MINORITY = 0.10
SEED = 0
# At most this ratio of the widest table's time per cell to the narrowest's reads as linear.
LINEAR = 1.5
STEPS = ("ingest", "validate", "drift", "split", "evaluate", "rebalance", "report", "verify")


def make_csv(path: Path, rows: int, width: int) -> None:
    """ROWS × WIDTH floats and a 0/1 label; one null in every 1,000th column."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    label = (rng.random(rows) < MINORITY).astype(np.int64)
    features = np.round(rng.normal(size=(rows, width)) + label[:, None] * 0.3, 6)
    frame = pl.DataFrame({f"f{i:05d}": features[:, i] for i in range(width)})
    nulls = [
        pl.when(pl.int_range(pl.len()) == column % rows)
        .then(None)
        .otherwise(pl.col(name))
        .alias(name)
        for column, name in enumerate(frame.columns)
        if column % 1000 == 999
    ]
    frame.with_columns(nulls).with_columns(pl.Series("label", label)).write_csv(path)


def baseline(source: str, out_dir: str) -> None:
    """The classic script, on polars: read, null check, split, SMOTE, write."""
    import polars as pl
    from imblearn.over_sampling import SMOTE
    from sklearn.model_selection import train_test_split

    frame = pl.read_csv(source)
    if frame.null_count().sum_horizontal().item():
        frame = frame.drop_nulls()
    x, y = frame.drop("label").to_numpy(), frame["label"].to_numpy()
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.30, stratify=y, random_state=SEED
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.50, stratify=y_rest, random_state=SEED
    )
    x_res, y_res = SMOTE(random_state=SEED).fit_resample(x_train, y_train)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = frame.drop("label").columns
    for split, (features, labels) in {
        "train": (x_res, y_res),
        "val": (x_val, y_val),
        "test": (x_test, y_test),
    }.items():
        written = pl.DataFrame(features, schema=names).with_columns(pl.Series("label", labels))
        written.write_parquet(out / f"{split}.parquet")


def write_config(path: Path, source: Path, output: Path, *, evaluate: bool) -> None:
    config = f"""name: {source.stem}
modality: tabular
source: {source}
label: label
validation:
  null_policy: drop
split:
  fractions: {{train: 0.7, val: 0.15, test: 0.15}}
  seed: {SEED}
rebalance:
  sampler: SMOTE
  params: {{}}
evaluate: {{enabled: {str(evaluate).lower()}}}
output: {output}
"""
    path.write_text(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--widths", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--evaluate", action="store_true", help="keep the evaluate step on")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and outputs here")
    args = parser.parse_args()
    with working_folder(args.workdir) as workdir:
        run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    print("== Wide tables: rebalance run vs the classic polars/sklearn/imblearn script ==")
    print(machine())
    print(
        f"data: {args.rows} rows × {', '.join(f'{w:,}' for w in args.widths)} float columns, "
        f"{MINORITY:.0%} minority, SMOTE, null_policy drop; evaluate "
        f"{'on' if args.evaluate else 'off (--evaluate turns it on)'}"
    )
    per_cell: dict[int, dict[str, float]] = {}
    for width in args.widths:
        source = workdir / f"wide_{args.rows}x{width}.csv"
        if not source.exists():
            make_csv(source, args.rows, width)
        config = workdir / f"wide_{width}.yaml"
        write_config(config, source, workdir / "outputs", evaluate=args.evaluate)
        base = measure(
            [python(), __file__, "--baseline", str(source), str(workdir / "baseline")], env=env
        )
        check(base, "baseline")
        ours = measure([python(), "-m", "rebalance.cli", "run", str(config), "--force"], env=env)
        check(ours, "rebalance run")
        run_dir = Path(ours.stdout.strip().splitlines()[-1])
        timings = json.loads((run_dir / "manifest.json").read_text())["timings_seconds"]
        cells = args.rows * (width + 1)
        micro = {name: 1e6 * timings.get(name, 0.0) / cells for name in STEPS if name in timings}
        per_cell[width] = {
            "baseline": 1e6 * base.wall_s / cells,
            "ours": 1e6 * ours.wall_s / cells,
            **micro,
        }
        print(
            f"{args.rows} × {width:,}: baseline {base.wall_s:.2f} s, ours {ours.wall_s:.2f} s "
            f"(ratio {ours.wall_s / base.wall_s:.2f}; peak RSS {ours.max_rss_mib:.0f} MiB); "
            "steps: " + ", ".join(f"{name} {timings[name]:.2f} s" for name in micro)
        )
    narrow, wide = args.widths[0], args.widths[-1]
    print(f"microseconds per cell, {narrow:,} → {wide:,} columns (ratio; ≤ {LINEAR} is linear):")
    for name in per_cell[wide]:
        before, after = per_cell[narrow].get(name, 0.0), per_cell[wide][name]
        ratio = after / before if before else float("nan")
        verdict = "linear" if ratio <= LINEAR else "GROWS"
        print(f"  {name:<10} {before:8.2f} → {after:8.2f}  ({ratio:.2f}, {verdict})")
    ratio = per_cell[wide]["ours"] / per_cell[narrow]["ours"]
    print(
        f"RATIO wide time per cell, {wide:,}/{narrow:,} columns: {ratio:.2f} "
        f"(target ≤ {LINEAR}) {'MET' if ratio <= LINEAR else 'MISSED'}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline":
        baseline(sys.argv[2], sys.argv[3])
    else:
        main()

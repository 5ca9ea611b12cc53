"""Streamed SMOTE: peak memory and time of the rebalance step, streamed vs in memory.

    python benchmarks/streaming_smote.py [--rows 1000000] [--rounds 1] [--workdir DIR]
    BENCH_FULL=1 python benchmarks/streaming_smote.py   # 10M rows, streamed only

Data: ROWS rows × 20 numeric columns (benchmarks/tabular.py's distribution: normal values,
6 decimals, 3% minority shifted by 0.5), generated a million rows at a time and written
once as the training split's parquet file. What is measured is the rebalance step alone,
not `rebalance run`: a child process calls the task functions on that file, as the
tabular modality does (streamed: `resample_streaming` on a scan of it; in memory:
`rebalance_table` on the collected frame, then `write_parquet`), with SMOTE's defaults
(`auto`: the minority grows to the majority's size) and no val or test to compare with.
Streamed and in-memory children alternate, ROUNDS times each; the benchmark prints their
wall times, time per million training rows, peak RSS (largest process), the ratio of the
peaks, and whether both wrote the same train.parquet.
With BENCH_FULL=1: 10,000,000 rows, streamed only, and a check that its peak RSS stays
under 2 GB (issue 17's target). The in-memory run is left out there (about 5 GB of arrays).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import check, full, machine, measure, python, spread, working_folder

ROOT = Path(__file__).resolve().parent.parent
N_FEATURES = 20
MINORITY = 0.03
SEED = 0
CHUNK_ROWS = 1_000_000
FULL_ROWS = 10_000_000
FULL_LIMIT_MIB = 2 * 1024


def make_parquet(path: Path, rows: int) -> None:
    """ROWS × 20 float columns and a 0/1 label, a million rows at a time (any size fits)."""
    import numpy as np
    import polars as pl

    parts = []
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            size = min(CHUNK_ROWS, rows - start)
            rng = np.random.default_rng([SEED, index])
            label = (rng.random(size) < MINORITY).astype(np.int64)
            features = rng.normal(size=(size, N_FEATURES)) + label[:, None] * 0.5
            part = Path(scratch) / f"{index:04d}.parquet"
            pl.DataFrame(
                {f"f{i:02d}": np.round(features[:, i], 6) for i in range(N_FEATURES)}
            ).with_columns(pl.Series("label", label)).write_parquet(part)
            parts.append(part)
        pl.scan_parquet(parts).sink_parquet(path)


def child(mode: str, source: Path, output: Path) -> None:
    """One rebalance step, as the tabular modality runs it."""
    import polars as pl

    from tasks.core.columns import Columns
    from tasks.core.frames import write_parquet
    from tasks.tabular.resample import rebalance_table
    from tasks.tabular.streaming import resample_streaming

    features = tuple(f"f{i:02d}" for i in range(N_FEATURES))
    columns = Columns(label="label", features=features, id_column=None)
    if mode == "streamed":
        resample_streaming(
            pl.scan_parquet(source),
            columns=columns,
            sampler="SMOTE",
            params={},
            seed=SEED,
            output=output,
            batch_rows=250_000,
        )
    else:
        resampled = rebalance_table(
            pl.read_parquet(source), columns=columns, sampler="SMOTE", params={}, seed=SEED
        )
        write_parquet(resampled.frame, output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and outputs here")
    parser.add_argument("--child", choices=["streamed", "in-memory"], help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.source, args.output)
        return
    if full():
        args.rows = FULL_ROWS
    with working_folder(args.workdir) as workdir:
        run(args, workdir, whole=full())


def run(args: argparse.Namespace, workdir: Path, *, whole: bool) -> None:
    import polars as pl

    source = workdir / f"train_{args.rows}.parquet"
    if not source.exists():
        make_parquet(source, args.rows)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    # 21 eight-byte columns in polars (not collected here: 1.6 GB at 10M rows).
    table_mib = args.rows * (N_FEATURES + 1) * 8 / 2**20
    minority = pl.scan_parquet(source).select(pl.col("label").sum()).collect().item()
    print("== Streamed SMOTE: the rebalance step, streaming.enabled true vs false ==")
    print(machine())
    print(
        f"data: {args.rows:,} training rows × {N_FEATURES} numeric columns, {minority:,} "
        f"minority ({minority / args.rows:.1%}), SMOTE auto ({args.rows - 2 * minority:,} "
        f"new rows); parquet {source.stat().st_size / 2**20:.0f} MiB, "
        f"{table_mib:.0f} MiB as a polars frame"
    )
    print(
        "measured: the rebalance step alone (task functions on the training split's "
        "parquet file, in a child process), not `rebalance run`"
    )
    modes = ["streamed"] if whole else ["streamed", "in-memory"]
    runs: dict[str, list] = {mode: [] for mode in modes}
    outputs = {mode: workdir / f"{mode}-train.parquet" for mode in modes}
    for _ in range(args.rounds):
        for mode in modes:
            command = [python(), __file__, "--child", mode, "--source", str(source)]
            measured = measure([*command, "--output", str(outputs[mode])], env=env)
            check(measured, f"{mode} SMOTE on {args.rows:,} rows")
            runs[mode].append(measured)
    peaks = {}
    for mode in modes:
        measured = runs[mode]
        peaks[mode] = max(run.max_rss_mib for run in measured)
        walls = [run.wall_s for run in measured]
        per_million = [wall / (args.rows / 1e6) for wall in walls]
        print(
            f"{mode:>9} {args.rows:>11,} rows: {spread(walls)}; "
            f"{spread(per_million, unit='s per million rows')}; "
            f"peak RSS {peaks[mode]:.0f} MiB (largest process)"
        )
    if whole:
        verdict = "PASS" if peaks["streamed"] < FULL_LIMIT_MIB else "FAIL"
        print(
            f"TARGET streamed peak RSS < {FULL_LIMIT_MIB} MiB at {args.rows:,} rows: "
            f"{peaks['streamed']:.0f} MiB, {verdict}"
        )
        return
    walls = {mode: median(run.wall_s for run in runs[mode]) for mode in modes}
    same = pl.read_parquet(outputs["streamed"]).equals(pl.read_parquet(outputs["in-memory"]))
    print(
        f"RATIO peak RSS streamed/in memory: {peaks['streamed'] / peaks['in-memory']:.2f}; "
        f"wall time streamed/in memory: "
        f"{walls['streamed'] / walls['in-memory']:.2f} (medians); "
        f"same train.parquet: {same}"
    )


if __name__ == "__main__":
    main()

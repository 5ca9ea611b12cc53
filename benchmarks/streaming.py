"""Streamed tables: peak memory of `rebalance run` with and without `streaming.enabled`.

    python benchmarks/streaming.py [--rows 2000000] [--rounds 1] [--workdir DIR]

Data: ROWS rows × 20 numeric columns, 3% minority (benchmarks/tabular.py's table, fixed
seed), written once as CSV. Both runs are `python -m rebalance.cli run ... --force` as
child processes, alternately, with the same sampler; only `streaming.enabled` differs.
The figure that matters is the largest process's peak RSS against the table's size in
memory (polars' estimate of the whole frame): streamed, the table need not fit.
Target (issue 6): ingest, validation counts and the split stream, and so do random
under- and over-sampling. The script also checks that both runs wrote the same rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import check, machine, measure, python, spread
from tabular import MINORITY, N_FEATURES, make_csv

ROOT = Path(__file__).resolve().parent.parent
SAMPLERS = ("RandomUnderSampler", "RandomOverSampler")


def write_config(path: Path, source: Path, output: Path, *, sampler: str, streaming: bool):
    path.write_text(
        f"""name: {"streamed" if streaming else "in-memory"}
modality: tabular
source: {source}
label: label
rebalance:
  sampler: {sampler}
streaming:
  enabled: {"true" if streaming else "false"}
output: {output}
"""
    )


def same_rows(left: Path, right: Path) -> bool:
    """Whether two run folders hold the same val/test and the same train rows (any order)."""
    import polars as pl

    for split in ("val", "test"):
        if (
            not pl.scan_parquet(left / f"{split}.parquet")
            .collect()
            .equals(pl.scan_parquet(right / f"{split}.parquet").collect())
        ):
            return False
    trains = [pl.read_parquet(folder / "train.parquet").sort(pl.all()) for folder in (left, right)]
    return trains[0].equals(trains[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and outputs here")
    args = parser.parse_args()
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="rebalance-bench-") as scratch:
            run(args, Path(scratch))
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args, args.workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    import polars as pl

    source = workdir / f"table_{args.rows}.csv"
    if not source.exists():
        make_csv(source, args.rows)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    table_mib = pl.scan_csv(source).collect().estimated_size("mb")
    print("== Streamed tables: rebalance run, streaming.enabled false vs true ==")
    print(machine())
    print(
        f"data: {args.rows:,} rows × {N_FEATURES} numeric columns, {MINORITY:.0%} minority; "
        f"CSV {source.stat().st_size / 2**20:.0f} MiB, {table_mib:.0f} MiB as a polars frame"
    )
    for sampler in SAMPLERS:
        runs: dict[bool, list] = {False: [], True: []}
        folders: dict[bool, Path] = {}
        for _ in range(args.rounds):
            for streaming in (False, True):
                config = workdir / f"{sampler}-{streaming}.yaml"
                write_config(
                    config, source, workdir / "outputs", sampler=sampler, streaming=streaming
                )
                measured = measure(
                    [python(), "-m", "rebalance.cli", "run", str(config), "--force"], env=env
                )
                check(measured, f"rebalance run ({sampler}, streaming {streaming})")
                runs[streaming].append(measured)
                folders[streaming] = Path(measured.stdout.strip().splitlines()[-1])
        in_memory = max(run.max_rss_mib for run in runs[False])
        streamed = max(run.max_rss_mib for run in runs[True])
        print(f"{sampler}:")
        print(
            f"  in memory: {spread([r.wall_s for r in runs[False]])}; peak RSS {in_memory:.0f} MiB"
        )
        print(f"  streamed:  {spread([r.wall_s for r in runs[True]])}; peak RSS {streamed:.0f} MiB")
        print(
            f"  RATIO streaming {sampler} peak RSS streamed/in memory: "
            f"{streamed / in_memory:.2f}; streamed peak/table in memory: "
            f"{streamed / table_mib:.2f}; same rows: {same_rows(folders[False], folders[True])}"
        )


if __name__ == "__main__":
    main()

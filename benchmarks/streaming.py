"""Streamed tables: peak memory of `rebalance run` with and without `streaming.enabled`.

    python benchmarks/streaming.py [--rows 1000000] [--rounds 1] [--workdir DIR]

Data: benchmarks/tabular.py's table (20 numeric columns, 3% minority, fixed seed) at ROWS
and 2×ROWS rows, written once as CSV. Every run is `python -m rebalance.cli run ... --force`
as a child process, with RandomOverSampler (it streams; its output is twice the training
split). Streamed runs at both sizes, and a run in memory at 2×ROWS, alternately.
What it shows: the streamed run's peak RSS (largest process) grows far less than the table
when the table doubles, because it holds a batch (`streaming.batch_rows`, 250,000 rows) and
a few values per row (label, key, position), while the run in memory grows with the table.
It also checks that the streamed and in-memory runs at 2×ROWS wrote the same rows.
Target (issue 6): ingest, validation counts and the split stream, and random under- and
over-sampling stream too.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import check, machine, measure, python, spread, working_folder
from tabular import MINORITY, N_FEATURES, make_csv

ROOT = Path(__file__).resolve().parent.parent
SAMPLER = "RandomOverSampler"


def write_config(path: Path, source: Path, output: Path, *, streaming: bool):
    path.write_text(
        f"""name: {"streamed" if streaming else "in-memory"}
modality: tabular
source: {source}
label: label
rebalance:
  sampler: {SAMPLER}
streaming:
  enabled: {"true" if streaming else "false"}
# Memory of the rebalancing itself: the evaluation samples at most 20,000 rows anyway.
evaluate: {{enabled: false}}
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
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and outputs here")
    args = parser.parse_args()
    with working_folder(args.workdir) as workdir:
        run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    import polars as pl

    sizes = (args.rows, 2 * args.rows)
    sources = {rows: workdir / f"table_{rows}.csv" for rows in sizes}
    for rows, source in sources.items():
        if not source.exists():
            make_csv(source, rows)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    table_mib = {
        rows: pl.scan_csv(path).collect().estimated_size("mb") for rows, path in sources.items()
    }
    print("== Streamed tables: rebalance run, streaming.enabled true vs false ==")
    print(machine())
    print(
        f"data: {N_FEATURES} numeric columns, {MINORITY:.0%} minority, {SAMPLER}; "
        + "; ".join(
            f"{rows:,} rows: CSV {sources[rows].stat().st_size / 2**20:.0f} MiB, "
            f"{table_mib[rows]:.0f} MiB as a polars frame"
            for rows in sizes
        )
    )
    cases = [(sizes[0], True), (sizes[1], True), (sizes[1], False)]
    runs: dict[tuple[int, bool], list] = {case: [] for case in cases}
    folders: dict[tuple[int, bool], Path] = {}
    for _ in range(args.rounds):
        for rows, streaming in cases:
            config = workdir / f"{rows}-{streaming}.yaml"
            # A folder per size: each size's runs have their own history, so the drift check
            # does not compare 2M rows with the 1M of the run before.
            output = workdir / "outputs" / f"{rows}"
            write_config(config, sources[rows], output, streaming=streaming)
            measured = measure(
                [python(), "-m", "rebalance.cli", "run", str(config), "--force"], env=env
            )
            check(measured, f"rebalance run ({rows:,} rows, streaming {streaming})")
            runs[(rows, streaming)].append(measured)
            folders[(rows, streaming)] = Path(measured.stdout.strip().splitlines()[-1])
    peaks = {}
    for rows, streaming in cases:
        measured = runs[(rows, streaming)]
        peaks[(rows, streaming)] = max(run.max_rss_mib for run in measured)
        print(
            f"{'streamed ' if streaming else 'in memory'} {rows:>9,} rows: "
            f"{spread([run.wall_s for run in measured])}; "
            f"peak RSS {peaks[(rows, streaming)]:.0f} MiB (largest process)"
        )
    growth = peaks[(sizes[1], True)] / peaks[(sizes[0], True)]
    per_million = (peaks[(sizes[1], True)] - peaks[(sizes[0], True)]) / (sizes[0] / 1e6)
    versus = peaks[(sizes[1], True)] / peaks[(sizes[1], False)]
    same = same_rows(folders[(sizes[1], False)], folders[(sizes[1], True)])
    print(
        f"streamed peak grows {per_million:.0f} MiB per million rows (labels, keys, positions); "
        f"the table itself is {table_mib[sizes[0]] / (sizes[0] / 1e6):.0f} MiB per million rows"
    )
    print(
        f"RATIO streaming peak RSS {sizes[1]:,}/{sizes[0]:,} rows: {growth:.2f}; "
        f"streamed/in memory at {sizes[1]:,} rows: {versus:.2f}; same rows: {same}"
    )


if __name__ == "__main__":
    main()

"""A week of nightly runs on a growing table: hash splits, the drift guard, retention.

    python demo/nightly_week.py [--nights 7] [--keep 2] [--broken-night 5] [--workdir DIR]

Each night the loans table has grown (the first 1,400 rows of demo/loans.csv on night 1, 100
more each night after, as an export that only appends), and `rebalance run` runs the
demo's config with `split.method: hash` and `retention.keep` set, against one embedded
Prefect server for the week. On `--broken-night` the export is cut to 600 rows, as an
upstream fault would: the drift guard stops that run and `latest` stays. After each night it
prints how many of last night's rows kept their split and the run folders left on disk; at
the end, `rebalance runs` and the dataset's Data Docs site. The cross-validated evaluation is
off to keep the week short.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rebalance import cli  # noqa: E402  (after the project root is importable)
from rebalance.config import load_config  # noqa: E402
from rebalance.embedded_server import EmbeddedServer  # noqa: E402
from tasks.run.rollback import published_runs  # noqa: E402

FIRST_NIGHT_ROWS = 1_400
ROWS_PER_NIGHT = 100


def write_config(workdir: Path, *, keep: int) -> Path:
    """The demo's loans config, reading `workdir/loans.csv` and writing under `workdir`."""
    config = yaml.safe_load((ROOT / "configs" / "loans.yaml").read_text(encoding="utf-8"))
    config |= {
        "source": str(workdir / "loans.csv"),
        "output": str(workdir / "outputs"),
        "retention": {"keep": keep},
        "split": {**config["split"], "method": "hash"},
        "evaluate": {"enabled": False},
    }
    path = workdir / "loans.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


BROKEN_EXPORT_ROWS = 600


def export(workdir: Path, night: int, *, broken: bool = False) -> int:
    """Night `night`'s export: the table as it has grown by then (cut short when `broken`);
    returns its rows."""
    rows = FIRST_NIGHT_ROWS + (night - 1) * ROWS_PER_NIGHT
    rows = BROKEN_EXPORT_ROWS if broken else rows
    table = pl.read_csv(ROOT / "demo" / "loans.csv", infer_schema_length=None)
    table.head(rows).write_csv(workdir / "loans.csv")
    return min(rows, table.height)


def splits_by_id(run_dir: Path) -> dict[str, str]:
    """Loan id → split of a published run's original rows."""
    parts = []
    for split in ("train", "val", "test"):
        frame = pl.read_parquet(run_dir / f"{split}.parquet")
        if "is_synthetic" in frame.columns:
            frame = frame.filter(~pl.col("is_synthetic"))
        parts.append(frame.select("Loan_ID").with_columns(pl.lit(split).alias("split")))
    return dict(pl.concat(parts).iter_rows())


def kept_their_split(before: dict[str, str], after: dict[str, str]) -> str:
    """How many of last night's rows are in the same split tonight."""
    kept = sum(after.get(loan) == split for loan, split in before.items())
    return f"{kept} of last night's {len(before)} rows kept their split"


def week(workdir: Path, *, nights: int, keep: int, broken_night: int | None) -> None:
    """Run `nights` nightly runs, printing what each leaves on disk, then `rebalance runs`."""
    config_path = write_config(workdir, keep=keep)
    dataset_dir = load_config(config_path).dataset_dir
    # One embedded server for the week (a nightly machine points PREFECT_API_URL at its own).
    server = EmbeddedServer.start_unless_configured()
    try:
        if server is not None:
            from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

            server.wait_ready(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        with server.as_api() if server else contextlib.nullcontext():
            before: dict[str, str] = {}
            for night in range(1, nights + 1):
                rows = export(workdir, night, broken=night == broken_night)
                errors = io.StringIO()
                with contextlib.redirect_stdout(sys.stderr), contextlib.redirect_stderr(errors):
                    status = cli.main(["run", str(config_path)])
                if status != 0:
                    last = errors.getvalue().strip().splitlines()[-1]
                    print(f"night {night}: {rows} rows; not published, latest stays: {last}")
                    continue
                after = splits_by_id(dataset_dir / "latest")
                kept = kept_their_split(before, after) if before else "first run"
                before = after
                on_disk = ", ".join(published_runs(dataset_dir))
                print(f"night {night}: {rows} rows; {kept}; run folders on disk: {on_disk}")
    finally:
        if server is not None:
            server.stop()
    print()
    print(cli.runs(dataset_dir))
    print(f"Data Docs of every night's validation: {dataset_dir / 'data_docs' / 'index.html'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=7, help="nightly runs (default 7)")
    parser.add_argument("--keep", type=int, default=2, help="retention.keep (default 2)")
    parser.add_argument(
        "--broken-night", type=int, default=5, help="the night of a cut-short export (default 5)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="folder for the table, config and outputs (default: temp)"
    )
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        week(
            args.workdir.resolve(),
            nights=args.nights,
            keep=args.keep,
            broken_night=args.broken_night,
        )
        return
    with tempfile.TemporaryDirectory(prefix="rebalance-week-") as workdir:
        week(Path(workdir), nights=args.nights, keep=args.keep, broken_night=args.broken_night)


if __name__ == "__main__":
    main()

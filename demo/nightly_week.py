"""A week of nightly runs on a growing table: what `retention.keep` leaves on disk.

    python demo/nightly_week.py [--nights 7] [--keep 2] [--workdir DIR]

Each night the loans table has grown (the first 1,400 rows of demo/loans.csv on night 1, 100
more each night after, as an export that only appends), and `rebalance run` runs the
demo's config with `retention.keep` set, against one embedded Prefect server for the week.
After each night it prints the run folders left on disk; at the end, `rebalance runs`.
The cross-validated evaluation is off to keep the week short.
"""

from __future__ import annotations

import argparse
import contextlib
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
        "evaluate": {"enabled": False},
    }
    path = workdir / "loans.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def export(workdir: Path, night: int) -> int:
    """Night `night`'s export: the table as it has grown by then; returns its rows."""
    rows = FIRST_NIGHT_ROWS + (night - 1) * ROWS_PER_NIGHT
    table = pl.read_csv(ROOT / "demo" / "loans.csv", infer_schema_length=None)
    table.head(rows).write_csv(workdir / "loans.csv")
    return min(rows, table.height)


def week(workdir: Path, *, nights: int, keep: int) -> None:
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
            for night in range(1, nights + 1):
                rows = export(workdir, night)
                with contextlib.redirect_stdout(sys.stderr):  # the run's own lines
                    status = cli.main(["run", str(config_path)])
                if status != 0:
                    sys.exit(f"night {night}: rebalance run failed (status {status})")
                on_disk = published_runs(dataset_dir)
                print(f"night {night}: {rows} rows; run folders on disk: {', '.join(on_disk)}")
    finally:
        if server is not None:
            server.stop()
    print()
    print(cli.runs(dataset_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=7, help="nightly runs (default 7)")
    parser.add_argument("--keep", type=int, default=2, help="retention.keep (default 2)")
    parser.add_argument(
        "--workdir", type=Path, help="folder for the table, config and outputs (default: temp)"
    )
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        week(args.workdir.resolve(), nights=args.nights, keep=args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="rebalance-week-") as workdir:
        week(Path(workdir), nights=args.nights, keep=args.keep)


if __name__ == "__main__":
    main()

"""Tables: `rebalance run` end to end against the classic pandas + sklearn + imblearn script.

    python benchmarks/tabular.py [--rows 1000000] [--rounds 2] [--workdir DIR]

Data: ROWS rows × 20 numeric columns, 3% minority, fixed seed, written once as CSV.
Baseline (the script a practitioner writes): pandas read_csv, a dropna check, sklearn's
stratified train_test_split 70/15/15, imblearn SMOTE on train, to_csv of the three splits.
Ours: `python -m rebalance.cli run` (Prefect's embedded server started by the command,
Great Expectations null check, report, parquet), timed from process start to exit, on a
fresh PREFECT_HOME (a new empty folder: Prefect creates and migrates its database) and
then on that same, now warm, home. Each round runs baseline, ours fresh, ours warm, as
child processes. Targets (issue 17): ours ≤ 0.25× the baseline's median wall time on a
warm home and ≤ 0.4× on a fresh one; peak RSS ≤ 1.5 GiB (issue 6). With REBALANCE_TIMELINE
set, our CLI prints when each stage and task run started and ended: the script prints the
medians, before the first task, per task, and after the last.

Each round also runs ours on a table of FLOOR_ROWS rows (same columns, same config), fresh
home then warm: what a run costs with next to no data (Prefect's server, the imports, the
flow and task runs, the exit). Against the goals, it says how many seconds they leave for
the million rows' work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from _common import check, machine, measure, python, spread, working_folder  # noqa: E402

from rebalance.timeline import ENV_VAR as TIMELINE_ENV_VAR  # noqa: E402
from rebalance.timeline import parse as parse_timeline  # noqa: E402

N_FEATURES = 20
MINORITY = 0.03
SEED = 0
TARGET_WARM = 0.25
TARGET_FRESH = 0.4
TARGET_RSS_MIB = 1.5 * 1024
FLOOR_ROWS = 1_000


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

    with working_folder(args.workdir) as workdir:
        run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    """Build the data once in workdir, then alternate baseline, ours fresh and ours warm."""
    source = workdir / f"table_{args.rows}.csv"
    if not source.exists():
        make_csv(source, args.rows)
    config = workdir / "bench.yaml"
    write_config(config, source, workdir / "outputs")
    floor_source = workdir / f"table_{FLOOR_ROWS}.csv"
    make_csv(floor_source, FLOOR_ROWS)
    floor_config = workdir / "floor.yaml"
    write_config(floor_config, floor_source, workdir / "floor-outputs")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        TIMELINE_ENV_VAR: "1",
    }

    print("== Tables: rebalance run vs classic pandas/sklearn/imblearn script ==")
    print(machine())
    size_mib = source.stat().st_size / 2**20
    print(
        f"data: {args.rows:,} rows × {N_FEATURES} numeric columns, {MINORITY:.0%} minority, "
        f"SMOTE; CSV {size_mib:.0f} MiB"
    )
    base_runs: list = []
    ours: dict[str, list] = {"fresh": [], "warm": []}
    floor: dict[str, list[float]] = {"fresh": [], "warm": []}
    for round_index in range(args.rounds):
        base = measure(
            [python(), __file__, "--baseline", str(source), str(workdir / "baseline")], env=env
        )
        check(base, "baseline")
        base_runs.append(base)
        # A new, empty home: the fresh run creates and migrates Prefect's database in it,
        # and the warm run after it finds that database ready.
        home = workdir / f"prefect-home-{round_index}"
        shutil.rmtree(home, ignore_errors=True)  # left by an earlier run in --workdir
        for kind in ("fresh", "warm"):
            ours[kind].append(_run_ours(config, {**env, "PREFECT_HOME": str(home)}, kind))
        floor_home = workdir / f"prefect-home-floor-{round_index}"
        shutil.rmtree(floor_home, ignore_errors=True)
        for kind in ("fresh", "warm"):
            measured, _ = _run_ours(floor_config, {**env, "PREFECT_HOME": str(floor_home)}, kind)
            floor[kind].append(measured.wall_s)
        print(
            f"round {round_index + 1}: baseline {base.wall_s:.2f} s, ours fresh "
            f"{ours['fresh'][-1][0].wall_s:.2f} s, ours warm {ours['warm'][-1][0].wall_s:.2f} s; "
            f"{FLOOR_ROWS:,} rows fresh {floor['fresh'][-1]:.2f} s, warm {floor['warm'][-1]:.2f} s"
        )

    base_wall = [run.wall_s for run in base_runs]
    base_rss = max(run.max_rss_mib for run in base_runs)
    print(f"baseline wall: {spread(base_wall)}; peak RSS {base_rss:.0f} MiB")
    ratios = {}
    for kind, runs in ours.items():
        wall = [measured.wall_s for measured, _ in runs]
        rss = max(measured.max_rss_mib for measured, _ in runs)
        tree = max(measured.tree_rss_mib for measured, _ in runs)
        ratios[kind] = statistics.median(wall) / statistics.median(base_wall)
        print(
            f"ours {kind} home wall: {spread(wall)}; peak RSS {rss:.0f} MiB (largest "
            f"process), {tree:.0f} MiB (CLI + Prefect server, summed)"
        )
        print(f"  where it went (median s): {_breakdown([stages for _, stages in runs])}")
    peak = max(measured.max_rss_mib for runs in ours.values() for measured, _ in runs)
    base_median = statistics.median(base_wall)
    for kind, target in (("warm", TARGET_WARM), ("fresh", TARGET_FRESH)):
        print(
            f"RATIO tables wall ours ({kind} Prefect home)/baseline: {ratios[kind]:.2f} "
            f"(target ≤ {target}) {'MET' if ratios[kind] <= target else 'MISSED'}"
        )
    for kind, target in (("warm", TARGET_WARM), ("fresh", TARGET_FRESH)):
        fixed = statistics.median(floor[kind])
        print(
            f"RATIO tables floor ({FLOOR_ROWS:,} rows, {kind} home)/baseline: "
            f"{fixed / base_median:.2f}: {spread(floor[kind])}; the {target}× goal "
            f"({target * base_median:.1f} s) leaves {target * base_median - fixed:.1f} s for the "
            f"{args.rows:,} rows' work, which took "
            f"{statistics.median(m.wall_s for m, _ in ours[kind]) - fixed:.1f} s"
        )
    print(
        f"peak RSS ours: {peak:.0f} MiB (target ≤ {TARGET_RSS_MIB:.0f}) "
        f"{'MET' if peak <= TARGET_RSS_MIB else 'MISSED'}"
    )


def _run_ours(config: Path, env: dict[str, str], kind: str):
    """One `rebalance run`, measured, with its stages in seconds (see `_stages`)."""
    measured = measure([python(), "-m", "rebalance.cli", "run", str(config), "--force"], env=env)
    check(measured, f"rebalance run ({kind} Prefect home)")
    return measured, _stages(parse_timeline(measured.stderr), measured.wall_s)


def _stages(marks: dict[str, float], wall_s: float) -> dict[str, float]:
    """Durations from the CLI's timeline: start-up, each task run, Prefect's gaps, exit."""
    tasks = [name.removeprefix("start:") for name in marks if name.startswith("start:")]
    if not tasks:
        return {"total": wall_s}
    first, last = marks[f"start:{tasks[0]}"], marks[f"end:{tasks[-1]}"]
    busy = {task: marks[f"end:{task}"] - marks[f"start:{task}"] for task in tasks}
    return {
        "imports+config": marks["config_checked"],
        "prefect import": marks["prefect_settings_read"] - marks["config_checked"],
        "flow+steps imports": marks["steps_imported"] - marks["prefect_settings_read"],
        "wait server": marks["server_ready"] - marks["steps_imported"],
        "flow run start": first - marks["server_ready"],
        **{task: seconds for task, seconds in busy.items() if seconds >= 0.05},
        "between tasks": (last - first) - sum(busy.values()),
        "flow end": marks["flow_returned"] - last,
        "record": marks["task_runs_recorded"] - marks["flow_returned"],
        "timeline query+drain": marks["drained"] - marks["task_runs_recorded"],
        "stop server": marks["server_stopped"] - marks["drained"],
        "exit": wall_s - marks["server_stopped"],
        "before first task": first,
        "after last task": wall_s - last,
        "total": wall_s,
    }


def _breakdown(runs: list[dict[str, float]]) -> str:
    names = [name for name in runs[0] if all(name in run for run in runs)]
    return ", ".join(f"{name} {statistics.median(run[name] for run in runs):.2f}" for name in names)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline":
        baseline(sys.argv[2], sys.argv[3])
    else:
        main()

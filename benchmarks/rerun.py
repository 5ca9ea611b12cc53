"""Nightly reruns on unchanged input: the rerun's wall time against the first run's.

    python benchmarks/rerun.py [--rows 300000] [--force-text]

For each modality, with a Prefect home whose database is already migrated (as a nightly
machine's is), `rebalance run` is timed as a child process three times on the same config:
the first run (fresh output folder) and the unchanged rerun (reuses `latest`: fingerprint of
data, config, code and libraries, checked before Prefect starts); with `--force-text`, text also
`--force` (runs every step again, and the translation cache answers every translation: 0.91
of the first run on the tickets demo, whose tiny models translate fast; left out of
`make bench` to keep it under 20 minutes). Data: ROWS × 20
numeric rows with SMOTE; the digits demo tree (images); the tickets demo back-translated
with tiny local Marian models (random weights; no download). Target (issue 6): rerun ≤ 20%
of the first run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import check, machine, measure, python

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = 0.20


def tabular_config(workdir: Path, rows: int) -> Path:
    from tabular import make_csv
    from tabular import write_config as write_tabular_config

    source = workdir / "table.csv"
    make_csv(source, rows)
    config = workdir / "table.yaml"
    write_tabular_config(config, source, workdir / "outputs")
    return config


def image_config(workdir: Path) -> Path:
    from demo.make_digits import make_digits

    make_digits(workdir / "digits")
    text = (ROOT / "configs" / "digits.yaml").read_text()
    text = text.replace("../demo/digits", str(workdir / "digits"))
    text = text.replace("output: ../outputs", f"output: {workdir / 'outputs'}")
    config = workdir / "digits.yaml"
    config.write_text(text)
    return config


def text_config(workdir: Path) -> Path:
    from tests.marian_models import build_models

    template = build_models(workdir / "models", source="en", pivots=("de",))
    text = (ROOT / "configs" / "tickets.yaml").read_text()
    text = text.replace("../demo/tickets.jsonl", str(ROOT / "demo" / "tickets.jsonl"))
    text = text.replace("output: ../outputs", f"output: {workdir / 'outputs'}")
    text = text.replace("Helsinki-NLP/opus-mt-{src}-{tgt}", template)
    text = text.replace("pivots: [de, fr]", "pivots: [de]")
    text = text.replace("do_sample: true", "do_sample: false")
    text = text.replace("fallback: eda", "fallback: null")
    config = workdir / "tickets.yaml"
    config.write_text(text)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument(
        "--force-text", action="store_true", help="also time text with --force (its cache)"
    )
    args = parser.parse_args()
    print("== Reruns: unchanged nightly rerun vs first run, `rebalance run` end to end ==")
    print(machine())
    with tempfile.TemporaryDirectory(prefix="rebalance-bench-rerun-") as scratch:
        workdir = Path(scratch)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PREFECT_HOME": str(workdir / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "HF_HUB_OFFLINE": "1",
        }
        env.pop("PREFECT_API_URL", None)
        # A nightly machine's Prefect database is migrated already; do it outside the timings.
        prefect = str(Path(python()).with_name("prefect"))
        subprocess.run(
            [prefect, "server", "database", "upgrade", "-y"],
            env=env,
            check=True,
            capture_output=True,
        )
        cases = {
            f"tables ({args.rows:,} rows × 20, SMOTE)": tabular_config(workdir, args.rows),
            "images (digits demo)": image_config(workdir),
            "text (tickets demo, back-translation)": text_config(workdir),
        }
        worst = 0.0
        for name, config in cases.items():
            command = [python(), "-m", "rebalance.cli", "run", str(config)]
            first = measure(command, env=env)
            check(first, f"{name}: first run")
            again = measure(command, env=env)
            check(again, f"{name}: rerun")
            forced = None
            if args.force_text and name.startswith("text"):
                forced = measure([*command, "--force"], env=env)
                check(forced, f"{name}: rerun --force")
            reused = again.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
            ratio = again.wall_s / first.wall_s
            worst = max(worst, ratio)
            print(
                f"{name}: first {first.wall_s:.2f} s; unchanged rerun {again.wall_s:.2f} s "
                f"({'reused latest' if reused else 'RAN AGAIN'}), ratio {ratio:.2f}"
                + (
                    f"; --force (translation cache) {forced.wall_s:.2f} s, "
                    f"ratio {forced.wall_s / first.wall_s:.2f}"
                    if forced
                    else ""
                )
            )
        print(
            f"RATIO reruns, worst unchanged rerun/first: {worst:.2f} (target ≤ {TARGET}) "
            f"{'MET' if worst <= TARGET else 'MISSED'}"
        )


if __name__ == "__main__":
    main()

"""The last lines of `make demo`: where each demo run's report, run folders and Data Docs are.

`python demo/where_to_look.py configs/loans.yaml configs/digits.yaml configs/tickets.yaml`
reads each config (no Prefect, no data) and prints the paths relative to the working
directory, so a new user knows what to open after the runs' logs scroll by.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rebalance.config import load_config
from tasks.run.folder import LATEST
from validations.data_docs import DATA_DOCS


def where_to_look(configs: list[Path], /, *, cwd: Path | None = None) -> str:
    """The closing lines: each dataset's latest report, its run folders, its Data Docs, and
    the commands that list and roll back its runs."""
    here = (cwd or Path.cwd()).resolve()
    lines = ["", "Done. Where to look:"]
    for path in configs:
        config = load_config(path)
        dataset = config.dataset_dir
        report = dataset / LATEST / "report.md"
        lines += [
            f"  {config.name} ({config.modality}):",
            f"    report       {_shown(report, here)}"
            + ("" if report.is_file() else "  (no published run yet)"),
            f"    run folders  {_shown(dataset, here)}/<run_id>/ (`latest` is the newest good run)",
            f"    Data Docs    {_shown(dataset / DATA_DOCS / 'index.html', here)}",
        ]
    listed = " ".join(str(path) for path in configs[:1])
    lines += [
        f"List a dataset's runs: .venv/bin/rebalance runs {listed}",
        "What the files are: docs/operations.md#output-layout",
    ]
    return "\n".join(lines)


def _shown(path: Path, here: Path) -> str:
    # Relative to where `make demo` ran when it is below it, else absolute.
    absolute = Path(os.path.abspath(path))
    return str(absolute.relative_to(here)) if absolute.is_relative_to(here) else str(absolute)


def main(argv: list[str] | None = None) -> int:
    """Print where to look after the demo runs of `configs`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", type=Path, help="the demo's config files")
    print(where_to_look(parser.parse_args(argv).configs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""vocabulary.py is what make_vocabulary writes for the installed libraries."""

import os
import subprocess
import sys
from pathlib import Path

from rebalance.config import make_vocabulary

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_vocabulary_is_generated_from_the_installed_libraries():
    committed = make_vocabulary.OUTPUT.read_text(encoding="utf-8")

    assert make_vocabulary.render() == committed, (
        "rebalance/config/vocabulary.py is out of date: run "
        "`.venv/bin/python -m rebalance.config.make_vocabulary`"
    )


def test_rendering_does_not_depend_on_hash_randomisation():
    # scikit-learn lists string options in set order, which differs between processes.
    code = "from rebalance.config.make_vocabulary import render; print(render(), end='')"
    texts = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }

    assert len(texts) == 1

"""`make demo` ends by saying where to look: each dataset's report, run folders and Data Docs."""

import importlib.util
import shlex
import subprocess
from pathlib import Path

from tests.helpers import write_config

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("where_to_look", ROOT / "demo/where_to_look.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_demo_ends_with_where_to_look_for_every_config_it_ran():
    done = subprocess.run(
        ["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # The demo's own commands (an install's recipe may come first, when .venv is not there).
    lines = [
        shlex.split(line)
        for line in done.stdout.strip().splitlines()
        if line.startswith(".venv/bin/") and "pip" not in line
    ]
    ran = [words[2] for words in lines if words[:2] == [".venv/bin/rebalance", "run"]]

    assert len(ran) == 3
    assert lines[-1] == [".venv/bin/python", "demo/where_to_look.py", *ran]


def test_it_names_each_report_run_folder_and_data_docs_relative_to_here(tmp_path):
    (tmp_path / "a").mkdir()
    first = write_config(tmp_path / "a", "d.csv", name="loans", output="out")
    report = tmp_path / "a" / "out" / "loans" / "20261201T000000Z-aaaaaa" / "report.md"
    report.parent.mkdir(parents=True)
    report.write_text("# report")
    (tmp_path / "a" / "out" / "loans" / "latest").symlink_to(report.parent.name)
    elsewhere = tmp_path / "b"
    elsewhere.mkdir()
    second = write_config(elsewhere, "d.csv", name="tickets", output="/elsewhere/outputs")

    text = _script().where_to_look([first, second], cwd=tmp_path)

    assert "report       a/out/loans/latest/report.md\n" in text
    assert "run folders  a/out/loans/<run_id>/" in text
    assert "Data Docs    a/out/loans/data_docs/index.html" in text
    # Not below the working directory: absolute; no run yet: said so.
    assert "report       /elsewhere/outputs/tickets/latest/report.md  (no published run" in text
    assert text.splitlines()[1] == "Done. Where to look:"

"""Every `rebalance` command the docs write, and `make demo`'s, run for real on the demo data.

tests/test_docs.py checks that each documented command parses and its config loads; that let
`--set rebalance.sampler=ADASYN` on the loans demo into the README, which cannot succeed there
(ADASYN takes `n_neighbors`, and loans has categorical columns). Here the commands run, in the
order the docs give them, with their arguments as written: against a copy of configs/ and
demo/ in a temporary folder (the configs' `output: ../outputs` then lands there), in this
process, on the session's one Prefect test server, so the imports and the server start are paid
once. `rebalance validate` commands run in tests/test_docs.py.
"""

from __future__ import annotations

import os
import re
import runpy
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

from rebalance.cli import main
from tests.helpers import prefect_console_to_this_stderr
from tests.test_docs import COMMANDS, ROOT, _words

pytestmark = [pytest.mark.slow, pytest.mark.flow]

REBALANCE = ".venv/bin/rebalance"
PYTHON = ".venv/bin/python"
# The subcommands that act (validate runs in tests/test_docs.py; serve needs a deployment).
ACTING = {"run", "rollback", "runs"}
# Scripts cheap enough to run here; the benchmarks and the week of nightly runs are not.
SCRIPTS = {"demo/make_digits.py"}
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def _demo_commands() -> list[str]:
    """`make demo`'s recipe, written as the docs write commands (`.venv/bin/...`)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe, "the Makefile has no demo target"
    return [line.strip().replace("$(BIN)/", ".venv/bin/") for line in recipe.group(1).splitlines()]


def _runnable(text: str) -> bool:
    _, words = _words(text)
    if words[:1] == [REBALANCE]:
        return len(words) > 1 and words[1] in ACTING
    return words[:1] == [PYTHON] and len(words) > 1 and words[1] in SCRIPTS


def _documented() -> list[str]:
    """The runnable commands of the docs, then of `make demo`, each once, in that order."""
    written = [command.text for command in COMMANDS] + _demo_commands()
    unique = dict.fromkeys(shlex.join(shlex.split(text, comments=True)) for text in written)
    return [text for text in unique if _runnable(text)]


@pytest.fixture
def demo_copy(tmp_path, monkeypatch):
    """configs/ and demo/ copied to a temporary project root, the working directory."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    shutil.copytree(
        ROOT / "demo", tmp_path / "demo", ignore=shutil.ignore_patterns("digits", "__pycache__")
    )
    # The cross-validated comparison of arms is most of a loans run (13 of ~20 s, and there
    # are seven): at 2 folds × 1 repeat it still fits each documented sampler, in seconds.
    with (tmp_path / "configs" / "loans.yaml").open("a", encoding="utf-8") as config:
        config.write("evaluate: {n_splits: 2, n_repeats: 1}\n")
    # Hermetic: the text demo falls back to EDA at once instead of downloading four models.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _published(dataset_dir: Path) -> list[str]:
    return sorted(path.name for path in dataset_dir.iterdir() if RUN_ID.match(path.name))


def _latest(dataset_dir: Path) -> str:
    return os.path.realpath(dataset_dir / "latest").rpartition(os.sep)[2]


def _run_rebalance(
    args: list[str], env: dict[str, str], root: Path, capsys, monkeypatch
) -> tuple[str, str]:
    """Run one `rebalance` command in this process; returns its stdout and stderr."""
    from rebalance import faults
    from rebalance.config import load_config

    dataset_dir = load_config(root / args[1]).dataset_dir
    if args[0] == "rollback" and "--to" in args:
        # The docs name an example run id; roll back to this folder's oldest run instead.
        written = args[args.index("--to") + 1]
        if written not in _published(dataset_dir):
            args = [*args[: args.index("--to") + 1], _published(dataset_dir)[0]]
    with monkeypatch.context() as scoped:
        for name, value in env.items():
            scoped.setenv(name, value)
        faults._fired.clear()
        latest_before = _latest(dataset_dir) if (dataset_dir / "latest").exists() else None
        prefect_console_to_this_stderr()
        status = main(args)
    out, err = capsys.readouterr()
    assert status == 0, err[-2000:]
    if args[0] == "run" and "--no-publish" in args:
        # A trial: its own folder under trials/, `latest` left where it was.
        folder = Path(out.strip().splitlines()[-1])
        assert folder.resolve().parent == (dataset_dir / "trials").resolve()
        assert (folder / "manifest.json").is_file()
        assert _latest(dataset_dir) == latest_before
    elif args[0] == "run":
        folder = Path(out.strip().splitlines()[-1])
        assert folder.resolve().parent == dataset_dir.resolve()
        assert (folder / "manifest.json").is_file()
        assert _latest(dataset_dir) == folder.name  # published, or the unchanged one reused
    elif args[0] == "rollback":
        assert _latest(dataset_dir) in _published(dataset_dir)
        if "--to" in args:
            assert _latest(dataset_dir) == args[args.index("--to") + 1]
    else:
        for run in _published(dataset_dir):
            assert run in out
    return out, err


def test_the_documented_commands_run_as_written(prefect_harness, demo_copy, capsys, monkeypatch):
    commands = _documented()
    # A parser that found none would pass; these are the ones the docs are known to hold.
    assert any(" run configs/loans.yaml --force" in text for text in commands)
    assert any(text.startswith(f"{REBALANCE} rollback") for text in commands)
    assert f"{REBALANCE} run configs/tickets.yaml" in commands  # from `make demo`
    timings = []
    for text in commands:
        env, (program, *args) = _words(text)
        started = time.monotonic()
        if program == PYTHON:
            with monkeypatch.context() as scoped:
                scoped.setattr(sys, "argv", args)
                runpy.run_path(str(demo_copy / args[0]), run_name="__main__")
        else:
            latest_before = {
                name: _latest(demo_copy / "outputs" / name)
                for name in ("loans", "digits", "tickets")
                if (demo_copy / "outputs" / name / "latest").exists()
            }
            _run_rebalance(args, env, demo_copy, capsys, monkeypatch)
            if args[0] == "rollback" and "--to" not in args:
                assert _latest(demo_copy / "outputs" / "loans") < latest_before["loans"]
        timings.append(f"{time.monotonic() - started:5.1f} s  {text}")
    # Nothing lands in the project: every output went to the copy's outputs/.
    assert sorted(path.name for path in (demo_copy / "outputs").iterdir()) == [
        "digits",
        "loans",
        "tickets",
    ]
    print("\n".join(timings))

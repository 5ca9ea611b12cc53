"""The docs against the code: the config reference is generated from the config models, and
every command written in README.md or docs/*.md runs as written from the project root.

Commands live in ```sh blocks (and in inline code that starts like a command); every other
fenced block must say what it is (```yaml, ```text) and hold no command. Each command is
checked as cheaply as is still honest: make targets exist (`make -n`), scripts accept
`--help` and the flags written, `rebalance` arguments parse and the config loads with its
overrides, files named by `prefect` exist; `rebalance validate` commands run for real (slow),
and tests/test_docs_run.py runs the `rebalance run`, `rollback` and `runs` commands (and `make
demo`'s) for real on a copy of the demo data (slow).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from rebalance.cli import _parser
from rebalance.config import load_config, reference
from rebalance.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(.*)$")
# What a fenced block may be: shell commands, a config or prefect.yaml snippet, or plain text
# (trees, diagrams). A block without a language could hide a command from these tests.
LANGUAGES = {"sh", "yaml", "text"}
# How a command starts: a yaml or text block line that starts so is a command in the wrong
# block. Inline code that starts so is checked as a command; `rebalance run` and `prefect
# deploy` in prose name a command without being one.
COMMAND_START = re.compile(
    r"^(\.venv/bin/|PYTHONPATH=|[A-Z_]+=\S* |make |time |bash |python |prefect |rebalance )"
)
INLINE_COMMAND_START = re.compile(
    r"^(\.venv/bin/|PYTHONPATH=|[A-Z_]+=\S* |make |time |bash |python )"
)
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
LINK = re.compile(r"\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    """A fenced code block: where it starts, its language and its lines."""

    where: str
    language: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    """A command written in the docs, joined across `\\` continuations."""

    where: str
    text: str


def _blocks(path: Path) -> list[Block]:
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = FENCE.match(line)
        if fence and language is None:
            language, start, lines = fence.group(1).strip(), number, []
        elif fence:
            blocks.append(Block(f"{path.relative_to(ROOT)}:{start}", language, tuple(lines)))
            language = None
        elif language is not None:
            lines.append(line)
    assert language is None, f"{path.relative_to(ROOT)}:{start}: a code block is never closed"
    return blocks


def _prose(path: Path) -> list[tuple[int, str]]:
    """The lines outside fenced blocks, numbered."""
    inside, kept = False, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            kept.append((number, line))
    return kept


def _commands() -> list[Command]:
    commands = []
    for path in DOCS:
        for block in _blocks(path):
            if block.language != "sh":
                continue
            pending = ""
            for line in block.lines:
                pending += line
                if pending.endswith("\\"):
                    pending = pending[:-1]
                    continue
                if shlex.split(pending, comments=True):
                    commands.append(Command(block.where, pending.strip()))
                pending = ""
        for number, line in _prose(path):
            for code in INLINE_CODE.findall(line):
                if INLINE_COMMAND_START.match(code):
                    commands.append(Command(f"{path.relative_to(ROOT)}:{number}", code))
    return commands


COMMANDS = _commands()
# Each distinct `rebalance validate` command, without its comment.
VALIDATE_COMMANDS = sorted(
    {
        shlex.join(shlex.split(command.text, comments=True))
        for command in COMMANDS
        if " validate " in f" {command.text} "
    }
)


def _words(command: str) -> tuple[dict[str, str], list[str]]:
    """The environment a command sets, and its words without it (and without `time`)."""
    words = shlex.split(command, comments=True)
    env = {}
    while words and ENV_ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[:1] == ["time"]:
        words.pop(0)
    return env, words


def _environment(written: dict[str, str]) -> dict[str, str]:
    # The worktree's code, whatever the interpreter's own install points at.
    env = {**os.environ, **written}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def _check_make(args: list[str]) -> None:
    assert not [arg for arg in args if arg.startswith("-")], "make options are not checked"
    done = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _check_bash(args: list[str]) -> None:
    script = ROOT / args[0]
    assert script.is_file(), f"{args[0]} does not exist"
    done = subprocess.run(["bash", "-n", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _check_prefect(args: list[str]) -> None:
    named = [arg for arg in args if "/" in arg or arg.endswith((".yaml", ".yml", ".py"))]
    for name in named:
        assert (ROOT / name).exists(), f"{name} does not exist"


def _check_rebalance(args: list[str]) -> None:
    try:
        parsed = _parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"rebalance does not accept {shlex.join(args)}")
    if parsed.command == "serve":
        assert (ROOT / parsed.prefect_file).is_file()
        return
    try:
        load_config(ROOT / parsed.config, overrides=getattr(parsed, "overrides", []))
    except ConfigError as exc:
        pytest.fail(str(exc))


@cache
def _help(script: str, pythonpath: str | None) -> str:
    env = _environment({} if pythonpath is None else {"PYTHONPATH": pythonpath})
    done = subprocess.run(
        [sys.executable, script, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{script} --help failed:\n{done.stderr[-2000:]}"
    return done.stdout


def _check_python(args: list[str], env: dict[str, str]) -> None:
    if args[0] == "-m":
        assert importlib.util.find_spec(args[1]) is not None, f"no module {args[1]}"
        return
    script, *options = args
    assert (ROOT / script).is_file(), f"{script} does not exist"
    usage = _help(script, env.get("PYTHONPATH"))
    for option in options:
        if option.startswith("--"):
            flag = option.partition("=")[0]
            assert re.search(rf"{re.escape(flag)}\b", usage), f"{script} has no {flag}"


def _check(command: str) -> None:
    env, words = _words(command)
    assert words, f"{command!r} runs nothing"
    program, *args = words
    if program.startswith(".venv/bin/"):
        name = program.removeprefix(".venv/bin/")
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        assert name in scripts or (Path(sys.executable).parent / name).exists(), (
            f"{program} is neither the interpreter, a script of ours nor one installed"
        )
    if program == "make":
        _check_make(args)
    elif program == "bash":
        _check_bash(args)
    elif program in ("prefect", ".venv/bin/prefect"):
        _check_prefect(args)
    elif program == ".venv/bin/rebalance":
        _check_rebalance(args)
    elif program == ".venv/bin/python":
        _check_python(args, env)
    else:
        pytest.fail(
            f"cannot tell how to check {command!r}: write it as make, bash, .venv/bin/python, "
            ".venv/bin/rebalance or .venv/bin/prefect from the project root, or teach "
            "tests/test_docs.py how to check it"
        )


def test_config_reference_is_generated_from_the_model():
    written = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")

    assert written == reference.render(), (
        "docs/config.md differs from the config models' descriptions: run `make docs` "
        "(python -m rebalance.config.reference) and commit docs/config.md"
    )


def test_every_config_key_has_a_description():
    assert reference.undescribed() == []


def test_reference_lists_every_key_with_its_default_and_escapes_pipes():
    rendered = reference.render()
    keys = [line.split(" | ")[0] for line in rendered.splitlines() if line.startswith("| `")]

    assert "| `split.seed` | int, ≥ 0 | `42` |" in rendered
    assert "| `validation.null_policy` | `fail` \\| `drop` | `fail` |" in rendered
    assert "| `rebalance.pivots` | list of str, length ≥ 1 | `[de]` |" in rendered
    assert "| `name` | str, length ≤ 100 | required |" in rendered
    # A key every modality shares is listed once; one that differs, once per modality.
    assert keys.count("| `split.seed`") == 1
    assert keys.count("| `source`") == 3


def test_readme_is_the_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()

    assert len(lines) <= 150
    assert lines[2:6] == [
        "```sh",
        "make demo    # fresh machine, Python 3.11+: creates .venv, installs, runs the bundled "
        "demo",
        "make test    # ruff, then the test suite",
        "```",
    ]
    assert (ROOT / "docs" / "images" / "balance.png").stat().st_size < 100_000


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_code_block_says_what_it_holds(path):
    for block in _blocks(path):
        assert block.language in LANGUAGES, (
            f"{block.where}: mark the block ```sh (commands), ```yaml or ```text"
        )
        if block.language != "sh":
            commands = [line for line in block.lines if COMMAND_START.match(line.strip())]
            assert not commands, f"{block.where}: commands belong in a ```sh block: {commands}"


def test_the_docs_hold_commands():
    # A parser that found none would pass every test below.
    assert len(COMMANDS) > 20
    assert any(command.text.startswith("make demo") for command in COMMANDS)
    assert VALIDATE_COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.where)
def test_command_runs_as_written(command):
    _check(command.text)


@pytest.mark.parametrize(
    "command",
    [
        "make no-such-target",
        ".venv/bin/rebalance run configs/no-such.yaml",
        ".venv/bin/rebalance run configs/loans.yaml --set rebalance.sampler=SMOOTE",
        ".venv/bin/rebalance rollback configs/loans.yaml --from x",
        ".venv/bin/python benchmarks/tabular.py --no-such-flag",
        ".venv/bin/python benchmarks/no_such.py",
        ".venv/bin/prefect deploy --prefect-file deployments/no-such.yaml",
        "bash .ci/no-such",
        "cd somewhere",
    ],
)
def test_a_broken_command_fails_the_check(command):
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        _check(command)


def _link_targets() -> list[tuple[str, str]]:
    links = []
    for path in DOCS:
        for number, line in _prose(path):
            for target in LINK.findall(line):
                if not target.startswith(("http://", "https://", "mailto:")):
                    links.append((f"{path.relative_to(ROOT)}:{number}", target))
    return links


def _anchors(path: Path) -> set[str]:
    # GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens.
    headings = [line for _, line in _prose(path) if line.startswith("#")]
    return {
        re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower()).replace(" ", "-")
        for heading in headings
    }


@pytest.mark.parametrize(("where", "target"), _link_targets(), ids=lambda value: value)
def test_links_point_at_files_and_headings_that_exist(where, target):
    source = ROOT / where.partition(":")[0]
    file, _, anchor = target.partition("#")
    linked = (source.parent / file).resolve() if file else source
    assert linked.exists(), f"{where}: {target} does not exist"
    if anchor:
        assert anchor in _anchors(linked), f"{where}: {target} names no heading"


def _config_examples() -> list[Block]:
    return [
        block
        for path in DOCS
        for block in _blocks(path)
        if block.language == "yaml"
        and {"name:", "source:"} <= {line.partition(" ")[0] for line in block.lines}
    ]


@pytest.fixture
def beside_the_configs(tmp_path):
    """A folder like configs/ whose `../demo` is the project's demo data."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "demo").symlink_to(ROOT / "demo")
    return tmp_path / "configs"


@pytest.mark.parametrize("block", _config_examples(), ids=lambda block: block.where)
def test_config_examples_load(block, beside_the_configs):
    config = beside_the_configs / "example.yaml"
    config.write_text("\n".join(block.lines), encoding="utf-8")

    loaded = load_config(config)

    assert loaded.source.is_relative_to(beside_the_configs.resolve().parent / "demo")


def _rebalance_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rebalance.cli", *args],
        cwd=ROOT,
        env=_environment({}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", VALIDATE_COMMANDS)
def test_validate_commands_run_for_real(command):
    _, (_, *args) = _words(command)

    done = _rebalance_cli(*args)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "valid"


@pytest.mark.slow
@pytest.mark.parametrize("block", _config_examples(), ids=lambda block: block.where)
def test_config_examples_validate_on_the_demo_data(block, tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    for name in ("loans.csv", "tickets.jsonl"):
        (demo / name).symlink_to(ROOT / "demo" / name)
    spec = importlib.util.spec_from_file_location("make_digits", ROOT / "demo" / "make_digits.py")
    make_digits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_digits)
    make_digits.make_digits(demo / "digits")
    config = tmp_path / "configs" / "example.yaml"
    config.parent.mkdir()
    config.write_text("\n".join(block.lines), encoding="utf-8")

    done = _rebalance_cli("validate", str(config))

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "valid"

"""What the layering (import-linter, in `make lint`) cannot see: where Prefect tasks are made and
task runners started, and that shared code asks the modality contract instead of branching."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("flows", "rebalance", "tasks", "validations")
# The only places that decorate Prefect tasks or start a task runner.
PREFECT_TASK_HOMES = ("tasks/steps.py", "tasks/core/")
# Code every modality runs through: it must not know which modality it serves.
SHARED = (
    "tasks/core/",
    "tasks/run/",
    "tasks/steps.py",
    "tasks/registry.py",
    "flows/rebalance_flow.py",
)
RUNNER_NAMES = {"started_task_runner", "task_runner", "ThreadPoolTaskRunner", "DaskTaskRunner"}


def _modules(*prefixes: str) -> list[Path]:
    files = sorted(path for folder in PRODUCT for path in (ROOT / folder).rglob("*.py"))
    relative = [path.relative_to(ROOT).as_posix() for path in files]
    return [ROOT / name for name in relative if not prefixes or name.startswith(prefixes)]


def _task_decorations(tree: ast.AST) -> list[int]:
    """Lines that make a Prefect task: `@task`, `@task(...)`, `task(fn, ...)`."""
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "prefect"
        for alias in node.names
        if alias.name == "task"
    }
    return sorted(
        {
            node.lineno
            for node in ast.walk(tree)
            if (isinstance(node, ast.Name) and node.id in imported)
            or (
                isinstance(node, ast.Attribute)
                and node.attr == "task"
                and isinstance(node.value, ast.Name)
                and node.value.id == "prefect"
            )
        }
    )


def _runner_uses(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id in RUNNER_NAMES)
        or (isinstance(node, ast.Attribute) and node.attr in RUNNER_NAMES)
        or (isinstance(node, ast.alias) and node.name in RUNNER_NAMES)
    ]


def test_only_steps_and_core_make_prefect_tasks_or_start_task_runners():
    offenders = []
    for path in _modules():
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(PREFECT_TASK_HOMES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{name}:{line}" for line in _task_decorations(tree) + _runner_uses(tree)]

    assert offenders == []


def test_the_audit_finds_a_task_made_outside_steps_and_core():
    tree = ast.parse("from prefect import task\n\n@task\ndef f():\n    pass\n\ng = task(f)\n")
    runner = ast.parse("from tasks.core.runners import started_task_runner\n")

    assert _task_decorations(tree) == [3, 7]
    assert _runner_uses(runner) == [1]


def _branches_on_modality(tree: ast.AST) -> list[int]:
    def names_modality(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id == "modality") or (
            isinstance(node, ast.Attribute) and node.attr == "modality"
        )

    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(names_modality(part) for part in [node.left, *node.comparators])
    ]


def _attribute_lookups(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"getattr", "hasattr"}
    ]


@pytest.mark.parametrize("check", [_branches_on_modality, _attribute_lookups])
def test_shared_code_asks_the_modality_contract_instead_of_branching(check):
    offenders = [
        f"{path.relative_to(ROOT).as_posix()}:{line}"
        for path in _modules(*SHARED)
        for line in check(ast.parse(path.read_text(encoding="utf-8")))
    ]

    assert offenders == []


def test_the_audit_finds_a_modality_branch_and_a_hook_lookup():
    source = "if config.modality == 'image':\n    hook = getattr(modality, 'preload', None)\n"

    assert _branches_on_modality(ast.parse(source)) == [1]
    assert _attribute_lookups(ast.parse(source)) == [2]

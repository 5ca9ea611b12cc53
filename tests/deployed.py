"""A real Prefect server, the project deployed to it from deployments/prefect.yaml, and a worker.

Everything runs in subprocesses of this test session: the server on 127.0.0.1 on a free port
with a temporary PREFECT_HOME, `prefect deploy` from a copy of the project (so runs write their
outputs into a temporary folder), and a process worker. Each long-lived process is started in a
session of its own and stopped by its process id (its process group), also when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PARTS = ("rebalance", "flows", "tasks", "validations", "configs", "demo", "deployments")
POOL = "rebalance"
# A fresh database needs ~25 s of migrations here, more while other jobs share the cores.
SERVER_STARTUP_TIMEOUT = 240
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Deployed:
    """The running server, the project copy it was deployed from, and the processes started."""

    project: Path
    api_url: str
    env: dict[str, str]
    logs: Path
    pids: list[int] = field(default_factory=list)
    keep: bool = False  # keep the folder (logs, database) for a look after a failed test

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30, transport=_RetryUnavailable())

    def deployment(self, flow_name: str, name: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/deployments/name/{flow_name}/{name}")
            response.raise_for_status()
            return response.json()

    def wait_for_run(self, flow_run_id: str, *, timeout: float) -> dict[str, Any]:
        """Poll the flow run until it is in a terminal state; returns it."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                run = client.get(f"/flow_runs/{flow_run_id}").json()
                if run["state_type"] in TERMINAL:
                    return run
                if time.monotonic() > deadline:
                    msg = f"flow run {flow_run_id} still {run['state_type']} after {timeout:.0f} s"
                    raise TimeoutError(msg + self.tail_logs())
                time.sleep(1)

    def runs_of(self, deployment_id: str) -> list[dict[str, Any]]:
        with self.client() as client:
            response = client.post(
                "/flow_runs/filter",
                json={
                    "deployments": {"id": {"any_": [deployment_id]}},
                    "sort": "EXPECTED_START_TIME_ASC",
                },
            )
            response.raise_for_status()
            return response.json()

    def tail_logs(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"\n--- {path.name} ---\n" + "\n".join(text))
        return "".join(parts)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_project(target: Path) -> Path:
    """The project's working tree (uncommitted files included), without caches and outputs."""
    target.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        shutil.copytree(
            ROOT / part, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return target


def prefect(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefect", *args]


def start(command: list[str], *, deployed: Deployed, name: str) -> int:
    """Start a long-lived process in its own session (its group is stopped by its pid)."""
    log = open(deployed.logs / f"{name}.log", "wb")  # noqa: SIM115 - the process owns it
    process = subprocess.Popen(
        command,
        cwd=deployed.project,
        env=deployed.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deployed.pids.append(process.pid)
    return process.pid


def descendants(pid: int) -> list[int]:
    """Child processes of `pid`, recursively (the worker starts each flow run in a session of
    its own, so stopping the worker's group would leave them behind)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(), [])
        found += children
        queue += children
    return found


def stop(pid: int, *, grace: float = 20) -> None:
    """SIGTERM the process group led by `pid` and its descendants, SIGKILL what is left after
    `grace` seconds."""
    children = descendants(pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def run(command: list[str], *, deployed: Deployed, name: str, timeout: float) -> str:
    """Run a short command to completion; its output goes to a log and is returned."""
    result = subprocess.run(
        command,
        cwd=deployed.project,
        env=deployed.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    (deployed.logs / f"{name}.log").write_text(output)
    if result.returncode != 0:
        msg = f"{' '.join(command[2:])} exited {result.returncode}:\n{output[-3000:]}"
        raise RuntimeError(msg)
    return output


def wait_healthy(deployed: Deployed, pid: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{deployed.api_url}/health", timeout=2).status_code == 200:
                return
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            msg = "prefect server exited during startup" + deployed.tail_logs()
            raise RuntimeError(msg)
        time.sleep(0.5)
    msg = f"prefect server not healthy after {timeout} s" + deployed.tail_logs()
    raise TimeoutError(msg)


@contextlib.contextmanager
def deploy_project(*, serve: bool = False) -> Iterator[Deployed]:
    """Server → work pool → `prefect deploy --all` → worker; everything stopped at exit.
    With `serve`: server → `rebalance serve` (no work pool, no deploy, no worker).

    Its folder is not pytest's tmp_path: other pytest sessions on the machine prune those,
    database included, while the server runs. It is removed at exit unless setup failed or
    the caller set `keep` (the logs are in `<folder>/logs`).
    """
    folder = Path(tempfile.mkdtemp(prefix="rebalance-deployed-"))
    port = free_port()
    home = folder / "prefect-home"
    home.mkdir(parents=True)
    api_url = f"http://127.0.0.1:{port}/api"
    project = copy_project(folder / "project")
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_CLI_PROMPT": "false",
        "PYTHONPATH": str(project),
    }
    logs = folder / "logs"
    logs.mkdir()
    deployed = Deployed(project=project, api_url=api_url, env=env, logs=logs)
    # A SIGTERM to the test session (a CI timeout) still runs the `finally` that stops all.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    failed = True
    try:
        server = start(
            prefect("server", "start", "--host", "127.0.0.1", "--port", str(port)),
            deployed=deployed,
            name="server",
        )
        wait_healthy(deployed, server, timeout=SERVER_STARTUP_TIMEOUT)
        if serve:
            command = [sys.executable, "-m", "rebalance.cli", "serve"]
            start(command, deployed=deployed, name="serve")
        else:
            run(
                prefect("work-pool", "create", POOL, "--type", "process", "--overwrite"),
                deployed=deployed,
                name="work-pool",
                timeout=120,
            )
            run(
                prefect("deploy", "--all", "--prefect-file", "deployments/prefect.yaml"),
                deployed=deployed,
                name="deploy",
                timeout=300,
            )
            start(prefect("worker", "start", "--pool", POOL), deployed=deployed, name="worker")
        yield deployed
        failed = False
    finally:
        for pid in reversed(deployed.pids):
            stop(pid)
        signal.signal(signal.SIGTERM, previous)
        if not failed and not deployed.keep:
            shutil.rmtree(folder, ignore_errors=True)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


class _RetryUnavailable(httpx.HTTPTransport):
    """Retry 503s as Prefect's own client and the UI do: the server answers 503 when its
    SQLite database is briefly locked by the worker's writes (seen once in a full suite run)."""

    ATTEMPTS = 5

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(self.ATTEMPTS):
            response = super().handle_request(request)
            if response.status_code != 503 or attempt == self.ATTEMPTS - 1:
                return response
            response.read()
            response.close()
            time.sleep(0.5 * 2**attempt)
        return response

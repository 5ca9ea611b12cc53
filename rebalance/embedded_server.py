"""Prefect's embedded server, started before this process imports Prefect's server code.

Without PREFECT_API_URL, a flow's first API call starts Prefect's ephemeral server
(`SubprocessASGIServer`: a uvicorn subprocess). Reaching that class means importing
`prefect.server.api.server`, which takes 5-11 s on a 2-core machine, and only then does the
subprocess start its own 10 s of imports and database checks. Here the same subprocess (same
command, same environment) starts as soon as Prefect's settings are read, so its start-up runs
on the other core while this process imports the flow and the steps' libraries; the flow then
talks to it through PREFECT_API_URL, set for the run with `temporary_settings`.

The server runs tethered to this process (`rebalance.tethered`): it stops when this process
dies, SIGKILL included, instead of serving an empty port for good. What it writes to stderr
(uvicorn's and Starlette's tracebacks when it stops while requests are in flight) goes to a
log file, named in one line if anything was written; with `--debug` it stays on stderr.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rebalance.errors import RebalanceError
from rebalance.tethered import tethered_command

# uvicorn's exit status when its port was taken between our check and its bind.
_PORT_IN_USE = 3
_POLL_SECONDS = 0.1
# Prefect's setting for the seconds between flow run heartbeats (None: none sent).
HEARTBEATS = "flows.heartbeat_frequency"


class EmbeddedServer:
    """One uvicorn subprocess serving Prefect's API for this process's runs."""

    def __init__(self, *, debug: bool = False) -> None:
        # Its stderr: the terminal with --debug, else a file named only if it is written to.
        self.log: IO[bytes] | None = None
        if not debug:
            self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115  # closed by stop()
                prefix="rebalance-prefect-server-", suffix=".log", delete=False
            )
        self.port = _free_port()
        self.env: dict[str, str] | None = None
        self.process = self._spawn()

    def replace(self, *, env: dict[str, str]) -> None:
        """Stop the server and spawn another with `env` (and the same log file)."""
        self.process.terminate()
        self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.env = env
        self.port = _free_port()
        self.process = self._spawn()

    @classmethod
    def start_unless_configured(cls, *, debug: bool = False) -> EmbeddedServer | None:
        """Spawn the server; None when a server is configured or the embedded one disabled.

        The server is spawned before this process imports Prefect (1-2 s on 2 busy cores,
        most of it `prefect/__init__`), so its own start begins that much earlier. It gets
        this process's environment, from which it reads the same settings as this process
        (same variables, profile, working folder). Once imported, Prefect's settings say
        whether it was wanted, and whether this process's settings are only those sources'
        (not a `temporary_settings` block around the call): if not, it is replaced by one
        spawned with them, as Prefect spawns its own.
        """
        if os.environ.get("PREFECT_API_URL") or os.environ.get(
            "PREFECT_SERVER_EPHEMERAL_ENABLED", ""
        ).lower() in ("0", "false"):
            return None
        server = cls(debug=debug)
        import prefect.context
        from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

        if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
            server.stop()
            return None
        # The process's own settings, loaded from its sources at import, live in the global
        # context; any other context was entered with overrides the server cannot read.
        if prefect.context.SettingsContext.get() is not prefect.context.GLOBAL_SETTINGS_CONTEXT:
            server.replace(env=_prefect_environment())
        return server

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait_ready(self, timeout: float) -> None:
        """Block until the API answers /health; a RebalanceError if it does not in time."""
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                if self.process.poll() == _PORT_IN_USE:
                    if self.process.stdin is not None:
                        self.process.stdin.close()
                    self.port = _free_port()
                    self.process = self._spawn()
                elif self.process.poll() is not None:
                    break
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                time.sleep(_POLL_SECONDS)
        log = self.stop()
        status = self.process.returncode
        msg = (
            f"Prefect's embedded server did not start within {timeout:.0f} s"
            + (f" (it exited with status {status})" if status is not None else "")
            + (f"; its log is {log}" if log is not None else "")
            + ": raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or point "
            "PREFECT_API_URL at a running Prefect server"
        )
        raise RebalanceError(msg)

    @contextlib.contextmanager
    def as_api(self) -> Iterator[None]:
        """Prefect clients in this block talk to this server.

        It serves no UI, so PREFECT_UI_URL is blanked: Prefect then logs no "View at" link
        (its default would be this API's address, which answers 404 for every page).

        Flow run heartbeats are off. They let a long-lived server mark a flow run crashed
        when its process dies; this server dies with the process, so nothing could read
        them. And at every flow's end Prefect (3.9) joins a heartbeat thread that sleeps in
        whole seconds: 0.3-0.9 s of a 1M-row table run's 12 s between its last task and the
        flow's return.
        """
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

        updates = {PREFECT_API_URL: self.api_url, PREFECT_UI_URL: "", HEARTBEATS: None}
        with temporary_settings(updates=updates):
            yield

    def stop(self) -> Path | None:
        """Terminate the server (it has recorded what it was sent: see prefect_sync).

        Returns:
            The file that holds what the server wrote to stderr, None if it wrote nothing
            (the file is then removed) or it wrote to the terminal (`--debug`).
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        return self._close_log()

    def _close_log(self) -> Path | None:
        if self.log is None:
            return None
        self.log.close()
        path = Path(self.log.name)
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()
        return path if path.is_file() else None

    def _spawn(self) -> subprocess.Popen:
        # Prefect's own command and environment for its ephemeral server (prefect 3.9,
        # SubprocessASGIServer._run_uvicorn_command): no UI, marked ephemeral. find_spec
        # locates the package without importing it.
        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **(self.env or {}),
        }
        # `python -m uvicorn ...`, stopped when this process dies (see rebalance.tethered).
        command = tethered_command(
            "uvicorn",
            "--app-dir",
            str(prefect_dir.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        )
        return subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stderr=self.log)


def _prefect_environment() -> dict[str, str]:
    """This process's Prefect settings as environment variables (Prefect's own way)."""
    from prefect.settings import get_current_settings

    return get_current_settings().to_environment_variables(exclude_unset=True)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

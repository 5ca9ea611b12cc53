"""Prefect's embedded server, started before this process imports Prefect's server code.

Without PREFECT_API_URL, a flow's first API call starts Prefect's ephemeral server
(`SubprocessASGIServer`: a uvicorn subprocess). Reaching that class means importing
`prefect.server.api.server`, which takes 5-11 s on a 2-core machine, and only then does the
subprocess start its own 10 s of imports and database checks. Here the same subprocess (same
command, same environment) starts as soon as Prefect's settings are read, so its start-up runs
on the other core while this process imports the flow and the steps' libraries; the flow then
talks to it through PREFECT_API_URL, set for the run with `temporary_settings`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rebalance.errors import RebalanceError

# uvicorn's exit status when its port was taken between our check and its bind.
_PORT_IN_USE = 3
_POLL_SECONDS = 0.1


class EmbeddedServer:
    """One uvicorn subprocess serving Prefect's API for this process's runs."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = self._spawn()

    @classmethod
    def start_unless_configured(cls) -> EmbeddedServer | None:
        """Spawn the server; None when a server is configured or the embedded one disabled."""
        from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

        if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
            return None
        return cls()

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
                    self.port = _free_port()
                    self.process = self._spawn()
                elif self.process.poll() is not None:
                    break
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                time.sleep(_POLL_SECONDS)
        self.stop()
        status = self.process.returncode
        msg = (
            f"Prefect's embedded server did not start within {timeout:.0f} s"
            + (f" (it exited with status {status})" if status is not None else "")
            + ": raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or point "
            "PREFECT_API_URL at a running Prefect server"
        )
        raise RebalanceError(msg)

    @contextlib.contextmanager
    def as_api(self) -> Iterator[None]:
        """Prefect clients in this block talk to this server."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            yield

    def stop(self) -> None:
        """Terminate the server (it has recorded what it was sent: see prefect_sync)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _spawn(self) -> subprocess.Popen:
        # Prefect's own command and environment for its ephemeral server (prefect 3.9,
        # SubprocessASGIServer._run_uvicorn_command): no UI, marked ephemeral.
        from prefect.settings import get_current_settings

        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        command = [
            sys.executable,
            "-m",
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
        ]
        return subprocess.Popen(command, env=env)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

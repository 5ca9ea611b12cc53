"""The embedded server's stderr: a file named in one line, never tracebacks in the terminal."""

import threading
import time
from pathlib import Path

import httpx
import pytest

from rebalance.embedded_server import EmbeddedServer
from rebalance.errors import RebalanceError

pytestmark = pytest.mark.slow


def test_a_server_that_fails_to_start_leaves_its_traceback_in_a_named_file(
    tmp_path, monkeypatch, capfd
):
    from prefect.settings import get_current_settings

    # Prefect's settings read first: the variable below reaches the server's environment
    # only, not this session's settings (which later servers are started with).
    get_current_settings()
    # A database the server cannot create: it exits during start-up with a traceback.
    database = tmp_path / "not-a-folder" / "prefect.db"
    (tmp_path / "not-a-folder").write_text("a file")
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{database}")
    server = EmbeddedServer()

    with pytest.raises(RebalanceError, match="its log is ") as raised:
        # It may hang after logging its failure instead of exiting: give it 30 s only.
        server.wait_ready(30)

    log = Path(str(raised.value).split("its log is ", 1)[1].split(":", 1)[0])
    try:
        assert "Traceback" in log.read_text()
        assert "Traceback" not in capfd.readouterr().err
        assert server.process.poll() is not None
    finally:
        log.unlink()


def test_a_stop_while_requests_are_in_flight_prints_no_traceback(capfd):
    server = EmbeddedServer()
    server.wait_ready(180)
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.api_url, timeout=30) as client:
            while not stop.is_set():
                try:
                    client.post("/flow_runs/filter", json={"limit": 200})
                except httpx.HTTPError:
                    return

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)

    log = server.stop()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert server.process.poll() is not None
    assert "Traceback" not in capfd.readouterr().err
    if log is not None:  # what the server wrote while it stopped is kept, not shown
        assert log.read_text().strip()
        log.unlink()

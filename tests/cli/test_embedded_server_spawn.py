"""The embedded server is spawned before Prefect's settings are read, then kept, replaced or
stopped by them (no server really starts here)."""

from __future__ import annotations

import pytest

from rebalance.embedded_server import EmbeddedServer


class _FakeProcess:
    def __init__(self, env: dict[str, str] | None) -> None:
        self.env = env
        self.stdin = None
        self.returncode: int | None = None
        self.terminated = False

    def poll(self) -> int | None:
        return self.returncode

    def terminate(self) -> None:
        self.terminated = True
        self.returncode = -15

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode


@pytest.fixture
def spawned(monkeypatch) -> list[_FakeProcess]:
    processes: list[_FakeProcess] = []

    def fake_spawn(self: EmbeddedServer) -> _FakeProcess:
        processes.append(_FakeProcess(self.env))
        return processes[-1]

    monkeypatch.setattr(EmbeddedServer, "_spawn", fake_spawn)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return processes


def test_a_server_spawned_from_the_environment_is_kept(spawned):
    server = EmbeddedServer.start_unless_configured()

    assert server is not None
    assert len(spawned) == 1 and spawned[0].env is None  # the process's own environment
    assert not spawned[0].terminated
    server.stop()


def test_settings_overridden_in_process_replace_it_with_one_that_has_them(spawned):
    from prefect.settings import PREFECT_LOGGING_LEVEL, temporary_settings

    with temporary_settings(updates={PREFECT_LOGGING_LEVEL: "DEBUG"}):
        server = EmbeddedServer.start_unless_configured()

    assert server is not None
    assert len(spawned) == 2 and spawned[0].terminated
    assert spawned[1].env is not None
    assert spawned[1].env["PREFECT_LOGGING_LEVEL"] == "DEBUG"
    server.stop()


def test_a_configured_api_url_stops_it(spawned):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        server = EmbeddedServer.start_unless_configured()

    assert server is None
    assert len(spawned) == 1 and spawned[0].terminated


def test_an_api_url_in_the_environment_spawns_nothing(spawned, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")

    assert EmbeddedServer.start_unless_configured() is None
    assert spawned == []


def test_flows_that_talk_to_it_send_no_heartbeats_and_no_ui_link(spawned):
    from prefect.flow_engine import FlowRunEngine
    from prefect.settings import get_current_settings

    server = EmbeddedServer.start_unless_configured()
    assert server is not None

    with server.as_api():
        settings = get_current_settings()
        assert settings.api.url == server.api_url
        assert not settings.ui_url
        assert settings.flows.heartbeat_frequency is None
        # What Prefect's flow engine reads to start (or not) its heartbeat thread.
        assert FlowRunEngine.heartbeat_seconds.fget(object()) is None
    assert get_current_settings().flows.heartbeat_frequency is not None
    server.stop()

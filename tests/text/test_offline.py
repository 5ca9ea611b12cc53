"""Offline is decided in about two seconds: the switches first, then one short connect probe."""

from __future__ import annotations

import shutil
import socket
import time

import pytest

from tasks.text import offline
from tasks.text.translators import Decoding, ModelUnavailable, Runtime, load_marian

HUB_NAME = "Helsinki-NLP/opus-mt-en-de"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DECODING = Decoding(max_new_tokens=8, num_beams=1, do_sample=False, top_p=1.0, temperature=1.0)


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any connect; returns the addresses asked for."""
    asked = []

    def refuse(address, *args, **kwargs):
        asked.append(address)
        raise AssertionError(f"connected to {address}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in offline.OFFLINE_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    return asked


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    # huggingface_hub and transformers both read the cache folder from here at call time.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.mark.parametrize(
    ("switch", "value"),
    [("HF_HUB_OFFLINE", "1"), ("HF_HUB_OFFLINE", "true"), ("TRANSFORMERS_OFFLINE", "YES")],
)
def test_an_offline_switch_decides_without_touching_the_network(
    no_network, monkeypatch, switch, value
):
    monkeypatch.setenv(switch, value)

    assert offline.offline_reason() == f"offline: {switch} is set"
    assert no_network == []


def test_a_switch_set_to_false_still_probes(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(offline, "probe_address", lambda: ("hub.invalid", 443))
    probed = []
    monkeypatch.setattr(offline, "connects", lambda *a, **k: probed.append(a) or False)

    assert (
        offline.offline_reason(timeout=0.5)
        == "offline: hub.invalid:443 did not answer within 0.5 s"
    )
    assert probed == [("hub.invalid", 443)]


def test_a_listening_port_connects_and_a_closed_one_does_not():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert offline.connects("127.0.0.1", port, timeout=2)
    # Closed now: refused at once.
    assert not offline.connects("127.0.0.1", port, timeout=2)


def test_a_hanging_lookup_or_connect_gives_up_within_the_timeout(monkeypatch):
    # A dead resolver or a black-holed address: the attempt itself does not return in time.
    def hang(*args, **kwargs):
        time.sleep(3)
        raise TimeoutError

    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.monotonic()

    assert not offline.connects("10.255.255.1", 443, timeout=0.3)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("huggingface.co", 443)),
        ({"HTTPS_PROXY": "http://proxy.example:3128"}, ("proxy.example", 3128)),
        ({"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "huggingface.co"},
         ("huggingface.co", 443)),
    ],
)  # fmt: skip
def test_the_probe_asks_whoever_would_carry_the_request(monkeypatch, env, expected):
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert offline.probe_address() == expected


def test_offline_a_hub_model_missing_from_the_cache_fails_at_once(
    no_network, empty_hub_cache, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()

    with pytest.raises(ModelUnavailable) as caught:
        load_marian(HUB_NAME, revision=None, local_files_only=False, decoding=DECODING,
                    runtime=Runtime())  # fmt: skip

    assert time.monotonic() - started < 5
    assert caught.value.reason == (
        "offline: HF_HUB_OFFLINE is set, and the model is not in the Hugging Face cache"
    )
    assert no_network == []


def test_unreachable_hub_loads_a_cached_model_from_the_cache(
    marian_template, empty_hub_cache, monkeypatch
):
    # The tiny en-de model laid out as `hf download` leaves it: a snapshot per commit, refs/main.
    repo = empty_hub_cache / "models--Helsinki-NLP--opus-mt-en-de"
    shutil.copytree(marian_template.format(src="en", tgt="de"), repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(offline, "connects", lambda *a, **k: False)
    for name in offline.OFFLINE_SWITCHES:
        monkeypatch.delenv(name, raising=False)

    translator = load_marian(
        HUB_NAME, revision=None, local_files_only=False, decoding=DECODING, runtime=Runtime()
    )

    assert translator.model_id == f"{HUB_NAME}@{COMMIT}"
    assert translator.spec.local_files_only  # shard workers load it from the cache too
    assert len(translator.translate(["the invoice shows the wrong address"], seed=0)) == 1

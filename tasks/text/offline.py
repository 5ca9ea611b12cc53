"""Is the Hugging Face hub out of reach? Decided in about two seconds, before transformers asks.

Asked for a model it has not cached, huggingface_hub retries an unreachable hub five times with
growing pauses (about 25 s), and transformers' import costs as much again: an offline nightly
run with `rebalance.fallback` waited that long on every run before falling back. Here the
offline switches are read first (`HF_HUB_OFFLINE`, `TRANSFORMERS_OFFLINE`, which both libraries
honour), and otherwise one TCP connect to the hub (or to the HTTPS proxy that would carry the
request) answers within `PROBE_TIMEOUT_SECONDS`. Out of reach, models load from the Hugging
Face cache only, and a model that is not there fails at once.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

# Long enough for a slow but working network to connect, short against the retries it replaces.
PROBE_TIMEOUT_SECONDS = 2.0
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# huggingface_hub's own reading of a boolean environment variable (`constants._is_true`).
_TRUE = {"1", "ON", "YES", "TRUE"}


def offline_reason(*, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """Why the hub cannot be reached, in a few words; None when it answers a connect.

    Args:
        timeout: seconds the connect (name lookup included) may take.
    """
    for name in OFFLINE_SWITCHES:
        if os.environ.get(name, "").upper() in _TRUE:
            return f"offline: {name} is set"
    host, port = probe_address()
    if not connects(host, port, timeout=timeout):
        return f"offline: {host}:{port} did not answer within {timeout:g} s"
    return None


def probe_address() -> tuple[str, int]:
    """Host and port a hub request would connect to: the HTTPS proxy's, else the endpoint's."""
    from huggingface_hub import constants

    endpoint = urlsplit(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    proxy = getproxies().get(endpoint.scheme or "https")
    if proxy and not proxy_bypass(host):
        proxied = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxied.hostname or host, proxied.port or 80
    return host, endpoint.port or (80 if endpoint.scheme == "http" else 443)


def connects(host: str, port: int, /, *, timeout: float) -> bool:
    """Whether a TCP connection to host:port opens within `timeout` seconds, lookup included.

    The lookup has no timeout of its own (a dead resolver can hold it for tens of seconds), so
    the attempt runs on a daemon thread that is left behind if it takes longer.
    """
    opened = threading.Event()

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError:
            return
        opened.set()

    probe = threading.Thread(target=attempt, name="hub-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    return opened.is_set()

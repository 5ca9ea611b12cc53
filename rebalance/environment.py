"""Environment defaults that keep Prefect, Great Expectations and albumentations quiet and
reliable on a fresh machine. Values already set by the user win."""

from __future__ import annotations

import os

DEFAULTS = {
    # The first run on a fresh PREFECT_HOME otherwise logs a telemetry "database is locked" error.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # A fresh PREFECT_HOME needs ~25 s of migrations here; Prefect's default 20 s wait fails.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "GX_ANALYTICS_ENABLED": "False",
    "NO_ALBUMENTATIONS_UPDATE": "1",
}


def apply_defaults() -> None:
    """Set each default unless the variable is already set."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)

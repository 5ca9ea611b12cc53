"""Shared fixtures. Prefect state goes to a temporary PREFECT_HOME, set before Prefect loads."""

from __future__ import annotations

import os
import tempfile

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="rebalance-tests-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytest

# A fresh database needs ~25 s of migrations on a 2-core machine; Prefect's default is 30 s.
SERVER_STARTUP_TIMEOUT = 180


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server (temporary SQLite database) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT):
        yield


@pytest.fixture(scope="session")
def marian_template(tmp_path_factory):
    """Tiny random-weight MarianMT models en→de and de→en, saved locally once per session.

    Returns the `rebalance.model` template that names them (`<tmp>/opus-mt-{src}-{tgt}`).
    """
    from tests.marian_models import build_models

    return build_models(tmp_path_factory.mktemp("marian"), source="en", pivots=("de",))


@pytest.fixture(scope="session")
def deployed(request):
    """A real Prefect server with deployments/prefect.yaml deployed and a worker (the server and
    browser tests share it); everything it started is stopped by process id at the end."""
    from tests.deployed import deploy_project

    with deploy_project() as deployed:
        yield deployed
        deployed.keep = request.session.testsfailed > 0

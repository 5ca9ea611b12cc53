"""`make server PREFECT_PORT=N` serves a UI that talks to the API on port N."""

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = re.compile(r"[A-Z_][A-Z0-9_]*=\S*")

# What the UI fetches first: its settings, `api_url` among them (prefect.server.api.server).
UI_SETTINGS = """
from prefect.server.api.server import create_ui_app
from starlette.testclient import TestClient

with TestClient(create_ui_app(ephemeral=False)) as client:
    print(client.get("/ui-settings").json()["api_url"])
"""


def _server_command(port: int) -> list[str]:
    # -o: the install stamp counts as done whatever the files' times (a fresh clone's are
    # arbitrary), so only the server's line is printed. --no-print-directory: under another
    # make (`make test`) make -n prints "Entering directory" lines too.
    stamp = "-o.venv/.installed"
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", stamp, "server", f"PREFECT_PORT={port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return shlex.split(done.stdout.replace("\\\n", " "))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.slow
def test_the_ui_of_make_server_on_another_port_talks_to_that_port(tmp_path):
    words = _server_command(4311)
    # `NAME=value ... program args`: the environment the recipe sets, then the command.
    leading = list(itertools.takewhile(ASSIGNMENT.fullmatch, words))
    assignments = dict(word.split("=", 1) for word in leading)
    command = words[len(leading) :]
    assert command[1:4] == ["server", "start", "--host"]
    assert command[command.index("--port") + 1] == "4311"
    # A user's PREFECT_API_URL for another server must not decide what the UI talks to.
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path),
        "PREFECT_API_URL": "http://127.0.0.1:4200/api",
        "PREFECT_SERVER_API_PORT": "4200",
        **assignments,
    }

    done = subprocess.run(
        [sys.executable, "-c", UI_SETTINGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "http://127.0.0.1:4311/api"

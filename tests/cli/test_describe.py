"""The final line for an unexpected error: the step, what happened, what to do."""

import errno

import pytest

from rebalance.cli import _describe_unexpected
from rebalance.errors import STEP_NOTE


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            "/out/t/.tmp-1/report.md",
            "step 'report' failed: no space left on device (ENOSPC) at "
            "/out/t/.tmp-1/report.md; the run was not published",
        ),
        (None, "step 'report' failed: no space left on device (ENOSPC); the run was not published"),
    ],
)
def test_a_full_disk_is_named_once_with_the_file_when_known(filename, expected):
    exc = OSError(errno.ENOSPC, "No space left on device", filename)
    exc.add_note(f"{STEP_NOTE}report")

    line = _describe_unexpected(exc)

    assert line.startswith(expected)
    assert line.lower().count("no space left on device") == 1

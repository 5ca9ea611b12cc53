"""What a run checks before Prefect starts: the source can be read, `<output>/<name>/` written.

The CLI calls it before it starts the embedded server (`run` and `validate`), the flow's
check-config step again for deployments, so a folder given as a table, a missing file or a
read-only output ends in one sentence with the fix instead of an OSError after the start.
"""

from __future__ import annotations

from typing import Any

from rebalance.config import CommonConfig
from tasks.core.contract import Modality
from tasks.core.files import check_writable


def preflight(config: CommonConfig, modality: Modality[Any], /) -> None:
    """Refuse a source the modality cannot read and an output folder that cannot be written.

    Raises:
        DataError: the source is missing, unreadable or of the wrong kind (file or folder).
        ConfigError: `<output>/<name>/`, or a folder the modality writes besides it (the
            translation cache), cannot be created or written.
    """
    modality.check_source(config)
    check_writable(config.dataset_dir)
    for key, folder in modality.written_folders(config).items():
        check_writable(folder, key=key)

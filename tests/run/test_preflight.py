"""Before Prefect starts: a source the modality cannot read and an output folder that cannot be
written are refused in one sentence that names the path and the fix, and nothing is created."""

import errno
import os
import tempfile
from pathlib import Path

import pytest

from rebalance.cli import _describe_unexpected
from rebalance.config import parse_config
from rebalance.errors import ConfigError, DataError
from tasks.core.files import check_writable
from tasks.registry import modality_for
from tasks.run.preflight import preflight
from tests.helpers import loans_frame
from tests.image_helpers import image_tree

AS_ROOT = os.geteuid() == 0  # chmod does not bind root: the permission cases cannot happen


def _config(tmp_path: Path, modality: str, source: str, output: str = "out"):
    fields = {
        "tabular": {"label": "status"},
        "text": {"modality": "text", "label": "label", "text_column": "text"},
        "image": {"modality": "image"},
    }[modality]
    return parse_config(
        {"name": "t", "source": str(tmp_path / source), "output": str(tmp_path / output), **fields}
    )


def _check(config) -> None:
    preflight(config, modality_for(config.modality))


@pytest.fixture
def sources(tmp_path):
    loans_frame(20).write_csv(tmp_path / "d.csv")
    (tmp_path / "d.jsonl").write_text('{"text": "a", "label": "x"}\n')
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.csv").mkdir()  # a folder named like a table
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    image_tree(tmp_path / "pics", {"a": 2, "b": 1})
    return tmp_path


@pytest.mark.parametrize(
    ("modality", "source", "error", "expected"),
    [
        ("tabular", "folder", DataError, "is a folder, not a file; point `source` at the data"),
        ("tabular", "folder.csv", DataError, "is a folder, not a file"),
        ("text", "folder", DataError, "is a folder, not a file"),
        ("image", "photo.png", DataError, "is neither a folder nor a CSV/Parquet table"),
        ("tabular", "nowhere.csv", DataError, "source file not found: "),
        ("text", "nowhere.jsonl", DataError, "source file not found: "),
        ("image", "nowhere", DataError, "image source not found: "),
    ],
)
def test_a_source_of_the_wrong_kind_or_missing_is_refused_naming_it(
    sources, modality, source, error, expected
):
    config = _config(sources, modality, source)

    with pytest.raises(error) as raised:
        _check(config)

    assert expected in str(raised.value)
    assert str(sources / source) in str(raised.value)
    assert not (sources / "out").exists()


@pytest.mark.parametrize(
    ("modality", "source"), [("tabular", "d.csv"), ("text", "d.jsonl"), ("image", "pics")]
)
def test_a_good_source_and_output_pass_and_leave_nothing(sources, modality, source):
    config = _config(sources, modality, source, output="deep/er/out")

    _check(config)

    assert not (sources / "deep").exists()


@pytest.mark.skipif(AS_ROOT, reason="root reads a chmod 000 file")
def test_an_unreadable_source_is_refused(sources):
    (sources / "d.csv").chmod(0o000)
    try:
        with pytest.raises(DataError, match=r"cannot read source .*d\.csv \(permission denied"):
            _check(_config(sources, "tabular", "d.csv"))
    finally:
        (sources / "d.csv").chmod(0o644)


@pytest.mark.parametrize(
    ("output", "in_the_way"),
    [("afile", "afile"), ("afile/below", "afile"), ("out", "out/t")],
)
def test_a_file_where_the_output_folder_goes_is_refused(sources, output, in_the_way):
    (sources / "out").mkdir()
    (sources / "out" / "t").write_text("a file named like the dataset")
    (sources / "afile").write_text("not a folder")

    with pytest.raises(ConfigError) as raised:
        _check(_config(sources, "tabular", "d.csv", output=output))

    assert f"{sources / in_the_way} is a file; point `output` at a folder" in str(raised.value)


@pytest.mark.skipif(AS_ROOT, reason="root writes into a chmod 555 folder")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        with pytest.raises(ConfigError, match=r"cannot be written \(permission denied \(EACCES\)"):
            check_writable(locked / "out" / "t")
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.EROFS, "point `output` at a writable disk"),
        (errno.ENOSPC, "free space or point `output` at a larger disk"),
        (errno.EACCES, "or point `output` at a folder it can write"),
    ],
)
def test_a_folder_that_cannot_be_written_names_the_errno_and_the_fix(
    tmp_path, monkeypatch, code, fix
):
    # What a read-only mount, a full disk or a folder without permission answer (root
    # gets no such answer from chmod, so the operating system's refusal is simulated).
    def refuse(**kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)

    with pytest.raises(ConfigError) as raised:
        check_writable(tmp_path / "out" / "t")

    message = str(raised.value)
    assert message.startswith(f"the output folder {tmp_path / 'out' / 't'} cannot be written (")
    assert f"({errno.errorcode[code]}) at {tmp_path}" in message
    assert message.endswith(fix)


def test_a_write_error_during_the_run_names_the_step_path_errno_and_fix():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/out/t/.tmp-x/train.parquet")
    full.add_note("rebalance step: rebalance")
    unknown = OSError(errno.EIO, "Input/output error")

    assert _describe_unexpected(full) == (
        "step 'rebalance' failed: no space left on device (ENOSPC) at "
        "/data/out/t/.tmp-x/train.parquet; the run was not published and `latest` is "
        "unchanged: free space or point `output` at a larger disk"
    )
    assert _describe_unexpected(unknown).endswith("rerun with --debug for the traceback")
    read_only = OSError(errno.EROFS, "Read-only file system", "/data/out/t/.latest-x")
    assert _describe_unexpected(read_only, command="rollback") == (
        "failed: read-only file system (EROFS) at /data/out/t/.latest-x; `latest` is "
        "unchanged: point `output` at a writable disk"
    )


def test_the_translation_cache_folder_is_probed_too_naming_its_key(sources):
    (sources / "afile").write_text("not a folder")
    config = _config(sources, "text", "d.jsonl")
    cached = config.rebalance.model_copy(update={"cache_dir": sources / "afile" / "cache"})
    eda = config.rebalance.model_copy(update={"method": "eda", "cache_dir": cached.cache_dir})

    with pytest.raises(ConfigError) as raised:
        _check(config.model_copy(update={"rebalance": cached}))

    assert str(raised.value) == (
        f"the rebalance.cache_dir folder {sources / 'afile' / 'cache'} cannot be created: "
        f"{sources / 'afile'} is a file; point `rebalance.cache_dir` at a folder (or move "
        f"{sources / 'afile'} away)"
    )
    _check(config.model_copy(update={"rebalance": eda}))  # eda translates nothing: no cache

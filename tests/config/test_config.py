from pathlib import Path

import pytest

from rebalance.config import load_config
from rebalance.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    path = _write(tmp_path / "conf", "name: d\nsource: ../data/x.csv\nlabel: y\n")
    monkeypatch.chdir("/")

    config = load_config(path)

    assert config.source == tmp_path / "data" / "x.csv"
    assert config.output == tmp_path / "conf" / "outputs"
    assert config.dataset_dir == tmp_path / "conf" / "outputs" / "d"


def test_defaults_match_the_documented_ones(tmp_path):
    config = load_config(_write(tmp_path, "name: d\nsource: x.csv\nlabel: y\n"))

    assert config.modality == "tabular"
    assert config.split.fractions == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert config.validation.null_policy == "fail"
    assert config.rebalance.sampler == "SMOTE"
    assert config.class_weights.beta == 0.999


def test_set_overrides_parse_yaml_values(tmp_path):
    path = _write(tmp_path, "name: d\nsource: x.csv\nlabel: y\n")

    config = load_config(
        path,
        overrides=["split.seed=7", "rebalance.params={k_neighbors: 3}", "features=[a, b]"],
    )

    assert config.split.seed == 7
    assert config.rebalance.params == {"k_neighbors": 3}
    assert config.features == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        (
            "name: d\nsource: x.csv\nlabel: y\nrebalance: {samplr: SMOTE}\n",
            [],
            "'rebalance.samplr'",
        ),
        ("name: d\nsource: x.csv\nlabel: y\ncolour: red\n", [], "unknown key 'colour'"),
        ("name: d\nsource: x.csv\n", [], "missing key 'label'"),
        ("name: d\nsource: x.csv\nlabel: y\nsplit: {seed: abc}\n", [], "'split.seed'"),
        (
            "name: d\nsource: x.csv\nlabel: y\n",
            ["split.fractions={train: 0.5, val: 0.2, test: 0.2}"],
            "must sum to 1",
        ),
        ("name: d\nsource: x.csv\nlabel: y\n", ["split.seed"], "key.path=value"),
        ("name: 'a b'\nsource: x.csv\nlabel: y\n", [], "'name'"),
        ("name: [unclosed\n", [], "not valid YAML"),
        ("- a list\n", [], "must hold a mapping"),
    ],
)
def test_bad_configs_get_one_line_naming_the_key(tmp_path, text, overrides, expected):
    path = _write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides=overrides)

    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


BASE = "name: d\nsource: x.csv\nlabel: y\n"


@pytest.mark.parametrize(
    ("overrides", "kind", "workers", "address"),
    [
        ([], "threads", None, None),
        (["runner.kind=dask", "runner.workers=2"], "dask", 2, None),
        (
            ["runner.kind=dask", "runner.address=tcp://10.0.0.5:8786"],
            "dask",
            None,
            "tcp://10.0.0.5:8786",
        ),
        (["runner.workers=4"], "threads", 4, None),
    ],
)
def test_runner_section_reads_kind_workers_and_address(tmp_path, overrides, kind, workers, address):
    config = load_config(_write(tmp_path, BASE), overrides=overrides)

    assert (config.runner.kind, config.runner.workers, config.runner.address) == (
        kind,
        workers,
        address,
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["runner.kind=processes"], "'runner.kind'"),
        (["runner.workers=0"], "'runner.workers'"),
        (["runner.adress=tcp://h:8786"], "unknown key 'runner.adress'"),
        (["runner.address=tcp://h:8786"], "needs runner.kind: dask"),
        (["runner.kind=dask", "runner.address=h:8786"], "like tcp://host:8786"),
        (
            ["runner.kind=dask", "runner.address=tcp://h:8786", "runner.workers=2"],
            "remove one of them",
        ),
    ],
)
def test_bad_runner_sections_name_the_key_and_the_fix(tmp_path, overrides, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, BASE), overrides=overrides)

    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_runner_config_builds_prefects_thread_pool_or_prefect_dasks_runner():
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from rebalance.config import RunnerConfig
    from tasks.core.runners import task_runner

    threads = task_runner(RunnerConfig(workers=3))
    local = task_runner(RunnerConfig(kind="dask", workers=2))
    remote = task_runner(RunnerConfig(kind="dask", address="tcp://h:8786"))

    assert isinstance(threads, ThreadPoolTaskRunner) and threads._max_workers == 3
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 2
    assert local.cluster_kwargs["threads_per_worker"] == 1
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://h:8786"


def test_local_dask_workers_start_without_malloc_trimming(monkeypatch):
    """Dask's MALLOC_TRIM_THRESHOLD_ halved image throughput in its workers: a local cluster
    starts them without it, keeps the rest of the worker environment, and restores it after."""
    import contextlib

    import dask

    from rebalance.config import RunnerConfig
    from tasks.core import runners as runner_module

    key = "distributed.nanny.pre-spawn-environ"
    seen = {}

    @contextlib.contextmanager
    def fake_runner(_):
        seen.update(dask.config.get(key))
        yield "started"

    monkeypatch.setattr(runner_module, "task_runner", fake_runner)
    with runner_module.started_task_runner(RunnerConfig(kind="dask", workers=2)) as started:
        assert started == "started"

    assert "MALLOC_TRIM_THRESHOLD_" not in seen or seen["MALLOC_TRIM_THRESHOLD_"] is None
    assert str(seen["OMP_NUM_THREADS"]) == "1"
    assert dask.config.get(key)["MALLOC_TRIM_THRESHOLD_"] == 65536

from pathlib import Path

import polars as pl
import pytest

from rebalance.config import load_config, parse_config
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


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["split.seed=-1"], r"'split\.seed': Input should be greater than or equal to 0"),
        (["rebalance.random_state=-5"], r"'rebalance\.random_state': Input should be greater"),
    ],
)
def test_negative_seeds_are_refused_when_the_config_loads(tmp_path, overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(_write(tmp_path, BASE), overrides=overrides)


def test_random_state_defaults_to_the_split_seed_and_can_be_set_apart(tmp_path):
    path = _write(tmp_path, BASE)

    assert load_config(path, overrides=["split.seed=7"]).random_state == 7
    config = load_config(path, overrides=["split.seed=7", "rebalance.random_state=3"])
    assert (config.split.seed, config.random_state) == (7, 3)


def _table(tmp_path: Path, suffix: str) -> Path:
    frame = pl.DataFrame({"id": [1, 2], "x": [0.5, 1.5], "body": ["a", "b"], "y": ["p", "q"]})
    path = tmp_path / f"data{suffix}"
    {".csv": frame.write_csv, ".parquet": frame.write_parquet}[suffix](path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            {"label": "Y"},
            "label column 'Y' is not in .*; its columns are: id, x, body, y. Fix `label`",
        ),
        ({"label": "y", "id_column": "ID"}, "id column 'ID' is not in .* Fix `id_column`"),
        ({"label": "y", "features": ["x", "z"]}, "features column 'z' is not in .* Fix `features`"),
        (
            {"label": "y", "split": {"group_column": "g"}},
            "group column 'g' is not in .* Fix `group_column`",
        ),
        (
            {"label": "y", "modality": "text", "text_column": "text"},
            "text column 'text' is not in .* Fix `text_column`",
        ),
    ],
)
def test_a_column_the_source_lacks_is_refused_when_the_config_loads(
    tmp_path, suffix, keys, expected
):
    source = _table(tmp_path, suffix)

    with pytest.raises(ConfigError, match=expected):
        parse_config({"name": "d", "source": str(source), **keys})


def test_the_columns_of_an_image_path_table_are_checked_too(tmp_path):
    pl.DataFrame({"file": ["a.png"], "label": ["a"]}).write_csv(tmp_path / "index.csv")

    with pytest.raises(ConfigError, match=r"path column 'path' is not in .* Fix `path_column`"):
        parse_config({"name": "d", "modality": "image", "source": str(tmp_path / "index.csv")})


def test_a_source_that_is_not_there_yet_is_checked_when_the_run_reads_it(tmp_path):
    # `prefect deploy` loads every config on a machine that may not hold the data.
    config = parse_config({"name": "d", "source": str(tmp_path / "later.csv"), "label": "y"})

    assert config.source == tmp_path / "later.csv"


def test_text_refuses_a_group_column_when_the_config_loads():
    with pytest.raises(ConfigError, match=r"split\.group_column is not supported for text"):
        parse_config(
            {
                "name": "d",
                "modality": "text",
                "source": "t.jsonl",
                "label": "y",
                "split": {"group_column": "g"},
            }
        )


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"rebalance": {"sampler": "SMOOTE"}}, "config.rebalance.sampler"),
        ({"split": {"seed": -1}}, "config"),
        ({"rebalance": {"random_state": -3}}, "config"),
    ],
)
def test_the_prefect_ui_form_refuses_what_the_config_refuses(config, field):
    # What the Prefect server checks a run's parameters with, against the flow's schema.
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools import ValidationError, validate

    from flows.rebalance_flow import rebalance_dataset

    schema = parameter_schema(rebalance_dataset).model_dump_for_openapi()
    good = {"name": "d", "source": "demo/loans.csv", "label": "Loan_Status"}
    validate({"config": good}, schema, raise_on_error=True)

    with pytest.raises(ValidationError, match=f"Validation failed for field '{field}'"):
        validate({"config": {**good, **config}}, schema, raise_on_error=True)
    with pytest.raises(ConfigError):
        parse_config({**good, **config})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            {"categorical_columns": ["sex"]},
            "categorical column 'sex' is not in .*; its columns are: id, x, body, y. "
            "Fix `categorical_columns`",
        ),
        ({"ignored_columns": ["body", "z"]}, "ignored column 'z' is not in .* Fix `ignored_col"),
        (
            {"rebalance": {"sampler": "SMOTENC", "params": {"categorical_features": ["sex"]}}},
            "categorical_features column 'sex' is not in .* Fix `rebalance.params.categorical_f",
        ),
    ],
)
def test_categorical_and_ignored_columns_the_source_lacks_are_refused(
    tmp_path, suffix, keys, expected
):
    source = _table(tmp_path, suffix)

    with pytest.raises(ConfigError, match=expected):
        parse_config({"name": "d", "source": str(source), "label": "y", **keys})


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"ignored_columns": ["y"]}, "ignored_columns names 'y', which is the label: a run"),
        (
            {"id_column": "id", "ignored_columns": ["id"]},
            "ignored_columns names 'id', which is `id_column`",
        ),
        (
            {"split": {"group_column": "body"}, "ignored_columns": ["body"]},
            "ignored_columns names 'body', which is `split.group_column`",
        ),
        (
            {"features": ["x", "body"], "ignored_columns": ["body"]},
            "'body' is in both `features` and `ignored_columns`",
        ),
        (
            {"categorical_columns": ["y"]},
            "categorical_columns names 'y', which is the label: it lists feature columns only",
        ),
        (
            {"categorical_columns": ["body"], "ignored_columns": ["body"]},
            "categorical_columns names 'body', which is in `ignored_columns`",
        ),
        (
            {"features": ["x"], "categorical_columns": ["body"]},
            "categorical_columns names 'body', which is not in `features`: it lists feature",
        ),
        (
            {
                "categorical_columns": ["x"],
                "rebalance": {"sampler": "SMOTENC", "params": {"categorical_features": ["body"]}},
            },
            r"categorical_columns \['x'\] and rebalance.params.categorical_features \['body'\] "
            "name different columns",
        ),
    ],
)
def test_categorical_and_ignored_columns_must_be_features(tmp_path, keys, expected):
    source = _table(tmp_path, ".csv")

    with pytest.raises(ConfigError, match=expected):
        parse_config({"name": "d", "source": str(source), "label": "y", **keys})


def test_categorical_features_by_name_declare_the_columns_smotenc_does_not_need_twice(tmp_path):
    source = str(_table(tmp_path, ".csv"))
    smotenc = {"sampler": "SMOTENC", "params": {"categorical_features": ["x", "body"]}}

    by_params = parse_config({"name": "d", "source": source, "label": "y", "rebalance": smotenc})
    both = parse_config(
        {
            "name": "d",
            "source": source,
            "label": "y",
            "categorical_columns": ["body", "x"],
            "rebalance": smotenc,
        }
    )
    by_position = parse_config(
        {
            "name": "d",
            "source": source,
            "label": "y",
            "rebalance": {"sampler": "SMOTENC", "params": {"categorical_features": [1]}},
        }
    )

    assert by_params.declared_categorical == ["x", "body"]
    assert both.declared_categorical == ["body", "x"]
    assert by_position.declared_categorical == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "greater than 0"),
        ("-0.1", "greater than 0"),
        ("1.5", "less than or equal to 1"),
        (".nan", "less than or equal to 1"),
    ],
)
def test_a_drop_limit_outside_0_to_1_is_refused_when_the_config_loads(tmp_path, value, expected):
    with pytest.raises(ConfigError, match=rf"'validation\.max_drop_fraction': .*{expected}"):
        load_config(_write(tmp_path, BASE), overrides=[f"validation.max_drop_fraction={value}"])


@pytest.mark.parametrize(("value", "expected"), [(None, 0.2), ("1", 1.0), ("0.05", 0.05)])
def test_the_drop_limit_defaults_to_a_fifth_and_takes_up_to_1(tmp_path, value, expected):
    overrides = [] if value is None else [f"validation.max_drop_fraction={value}"]

    config = load_config(_write(tmp_path, BASE), overrides=overrides)

    assert config.validation.max_drop_fraction == expected

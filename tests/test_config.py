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

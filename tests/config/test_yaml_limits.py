"""YAML from the user may not expand without bound: alias bombs and self-referring aliases are
refused in a fraction of a second, wherever YAML is read; plain anchors and merges still work."""

import itertools
import time

import albumentations  # noqa: F401  (its seconds of import are not the refusal's)
import pytest

from rebalance.config import load_config
from rebalance.config.yaml_reader import MAX_VALUES, YamlLimitError, read_yaml
from rebalance.deployments import read_prefect_file
from rebalance.errors import ConfigError
from tasks.images.pipeline import build_pipeline
from tests.helpers import loans_frame, write_config


def _bomb(levels: int, width: int = 9, indent: str = "") -> str:
    """`a: &a [x, ...]`, `b: &b [*a, *a, ...]`, ...: width**levels values from a few lines.

    With width 9 the sixth, `f`, is the first past the bound (9**6 = 531,441 values).
    """
    names = "abcdefghijklmnop"[:levels]
    lines = [f"{indent}a: &a [{', '.join(['x'] * width)}]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{indent}{name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def config_path(tmp_path):
    loans_frame(40).write_csv(tmp_path / "d.csv")
    return write_config(tmp_path, "d.csv")


def test_an_alias_bomb_in_a_config_is_refused_at_once_naming_the_key(config_path):
    # Inside a parameter SMOTE accepts (a mapping), where the rerun fingerprint expanded it.
    text = config_path.read_text() + "rebalance:\n  sampler: SMOTE\n  params:\n"
    config_path.write_text(text + "    sampling_strategy:\n" + _bomb(9, indent="      "))
    started = time.monotonic()

    with pytest.raises(ConfigError) as raised:
        load_config(config_path)

    assert time.monotonic() - started < 2
    message = str(raised.value)
    assert message.startswith(f"{config_path}: its YAML aliases at 'rebalance.params.")
    assert f"more than {MAX_VALUES:,} values" in message
    assert "\n" not in message


def test_an_alias_bomb_in_a_set_value_is_refused(config_path):
    value = "{" + _bomb(8).replace("\n", ", ").rstrip(", ") + "}"

    with pytest.raises(ConfigError, match=r"^--set rebalance\.params: its YAML aliases at 'f'"):
        load_config(config_path, overrides=[f"rebalance.params={value}"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &a [1, *a]\n", r"alias refers to the anchor it is inside \(the anchor on line 1\)"),
        ("a: &a {b: *a}\n", r"alias refers to the anchor it is inside"),
        ("[" * 5000 + "]" * 5000, "nests lists or mappings too deeply to read; flatten it"),
    ],
)
def test_self_referring_aliases_and_runaway_nesting_are_refused(text, expected):
    with pytest.raises(YamlLimitError, match=rf"^doc.yaml: .*{expected}|^doc.yaml {expected}"):
        read_yaml(text, origin="doc.yaml")


def test_aliases_within_the_bound_read_as_pyyaml_reads_them():
    # 9**5 = 59,049 strings (plus the lists holding them): under the bound, shared, not copied.
    loaded = read_yaml(_bomb(5), origin="doc.yaml")

    assert len(loaded["e"]) == 9
    assert loaded["e"][0] is loaded["d"]
    with pytest.raises(YamlLimitError):
        read_yaml(_bomb(6), origin="doc.yaml")  # 9**6 = 531,441


def test_anchors_and_merge_keys_in_a_normal_config_keep_working(config_path):
    # Unknown top-level keys are refused, so anchors live inside the real sections.
    text = config_path.read_text() + (
        "split:\n"
        "  fractions: &fractions {train: 0.6, val: 0.2, test: 0.2}\n"
        "  seed: &seed 11\n"
        "rebalance:\n"
        "  sampler: SMOTE\n"
        "  random_state: *seed\n"
        "  params:\n"
        "    <<: {k_neighbors: 3}\n"
    )
    config_path.write_text(text)

    config = load_config(config_path)

    assert config.split.seed == 11
    assert config.rebalance.random_state == 11
    assert config.rebalance.params == {"k_neighbors": 3}


def test_a_defaults_merge_reads_as_pyyaml_reads_it():
    text = "defaults: &defaults {k: 1, m: 2}\nrun:\n  <<: *defaults\n  m: 3\n"

    assert read_yaml(text, origin="doc.yaml") == {
        "defaults": {"k": 1, "m": 2},
        "run": {"k": 1, "m": 3},
    }


def test_an_alias_bomb_in_prefect_yaml_is_refused(tmp_path):
    path = tmp_path / "prefect.yaml"
    path.write_text("definitions:\n" + _bomb(8, indent="  ") + "deployments: [{name: x}]\n")

    with pytest.raises(ConfigError, match=r"prefect\.yaml: its YAML aliases at 'definitions\.f'"):
        read_prefect_file(path)


def test_an_alias_bomb_in_a_saved_augmentations_file_is_refused(tmp_path):
    path = tmp_path / "augmentations.yaml"
    path.write_text(
        "x:\n" + _bomb(8, indent="  ") + "transform: {__class_fullname__: Affine, scale: *h}\n"
    )
    started = time.monotonic()

    with pytest.raises(ConfigError, match=r"^rebalance\.augmentations file .*augmentations\.yaml"):
        build_pipeline(path, seed=0)

    assert time.monotonic() - started < 5


def test_a_set_value_that_is_not_yaml_is_one_line_naming_it(config_path):
    with pytest.raises(
        ConfigError, match=r"^--set 'split\.seed=\[1' is not a YAML value .*quote it"
    ):
        load_config(config_path, overrides=["split.seed=[1"])

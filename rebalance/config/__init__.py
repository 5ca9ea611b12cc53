"""The run config: one frozen pydantic model per modality, read from YAML, also the flow's
parameter type (so the Prefect UI shows it as a form).

Every static check of a config lives in these models (one module per modality's sections,
`common` for the rest), so the CLI, `rebalance validate` and a Prefect run refuse a bad config
the same way before any work starts: unknown keys (a typo is an error that names the key),
sampler and augmentation names (with the closest names), sampler parameters imbalanced-learn
would reject, negative seeds, columns the source does not have where its header can be read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Discriminator, Tag, TypeAdapter, ValidationError

from rebalance.config.common import (
    ClassWeightsConfig,
    CommonConfig,
    RebalanceSection,
    RunnerConfig,
    SplitConfig,
    ValidationConfig,
)
from rebalance.config.images import ImageConfig, ImageRebalanceConfig, ImageValidationConfig
from rebalance.config.tabular import (
    EvaluateConfig,
    RebalanceConfig,
    StreamingConfig,
    TabularConfig,
)
from rebalance.config.text import TextConfig, TextRebalanceConfig, TextValidationConfig
from rebalance.config.yaml_reader import YamlLimitError, read_yaml
from rebalance.errors import ConfigError

__all__ = [
    "MODALITIES",
    "ClassWeightsConfig",
    "CommonConfig",
    "EvaluateConfig",
    "ImageConfig",
    "ImageRebalanceConfig",
    "ImageValidationConfig",
    "RebalanceConfig",
    "RebalanceSection",
    "RunConfig",
    "RunnerConfig",
    "SplitConfig",
    "StreamingConfig",
    "TabularConfig",
    "TextConfig",
    "TextRebalanceConfig",
    "TextValidationConfig",
    "ValidationConfig",
    "describe_validation_error",
    "load_config",
    "parse_config",
]


def _modality_of(value: Any) -> str:
    # A config without `modality` is tabular (the first modality, so old configs still work).
    if isinstance(value, dict):
        return value.get("modality", "tabular")
    return value.modality if isinstance(value, CommonConfig) else "tabular"


MODALITIES = ("tabular", "image", "text")

# The flow's parameter type: one config model per modality, chosen by `modality`.
RunConfig = Annotated[
    Annotated[TabularConfig, Tag("tabular")]
    | Annotated[ImageConfig, Tag("image")]
    | Annotated[TextConfig, Tag("text")],
    Discriminator(_modality_of),
]
_RUN_CONFIG = TypeAdapter(RunConfig)


def load_config(path: Path | str, /, *, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a YAML config, apply `key.path=value` overrides and validate it.

    Relative paths (`source`, `output`, an augmentations file, a `./` or `../` model folder)
    resolve against the config file's folder, so a config works the same from any working
    directory (a Prefect worker's included).

    Raises:
        ConfigError: the file is missing or not YAML, an override is malformed, or the
            config does not validate; the message names the file and the key.
    """
    path = Path(path)
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"), origin=str(path))
    except FileNotFoundError:
        msg = f"config file not found: {path}; pass the path of a YAML config"
        raise ConfigError(msg) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        msg = f"{path} is not valid YAML ({first_line}); fix the syntax"
        raise ConfigError(msg) from None
    except YamlLimitError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(raw, dict):
        msg = f"{path} must hold a mapping of keys (name, source, label, ...)"
        raise ConfigError(msg)
    for override in overrides:
        _apply_override(raw, override)
    base = path.resolve().parent
    raw.setdefault("output", "outputs")
    for key in ("source", "output"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = os.path.normpath(base / raw[key])
    validation = raw.get("validation")
    if isinstance(validation, dict) and isinstance(validation.get("expectation_suite"), str):
        # A Great Expectations suite file, like `source`, is relative to the config.
        validation["expectation_suite"] = os.path.normpath(base / validation["expectation_suite"])
    rebalance = raw.get("rebalance")
    if isinstance(rebalance, dict) and isinstance(rebalance.get("augmentations"), str):
        # An image run's saved albumentations pipeline, like `source`, is relative to the config.
        rebalance["augmentations"] = os.path.normpath(base / rebalance["augmentations"])
    if isinstance(rebalance, dict) and str(rebalance.get("model", "")).startswith(("./", "../")):
        # A text run's local model folder too (a hub name such as Helsinki-NLP/... is not a path).
        rebalance["model"] = os.path.normpath(base / rebalance["model"])
    return parse_config(raw, origin=str(path))


def parse_config(raw: dict[str, Any], /, *, origin: str = "config") -> RunConfig:
    """Validate a config mapping; errors become one ConfigError line naming each key."""
    try:
        return _RUN_CONFIG.validate_python(raw)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line: `key: problem; key: problem`."""
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        if loc and loc[0] in MODALITIES:  # the union's tag: not a key the user wrote
            loc = loc[1:]
        key = ".".join(str(part) for part in loc)
        if error["type"] == "union_tag_invalid":
            problems.append(
                f"'modality': {error['ctx']['tag']!r} is not one of {', '.join(MODALITIES)}"
            )
        elif not key:  # a check of the whole config (a column the source lacks): its sentence
            problems.append(error["msg"].removeprefix("Value error, "))
        elif error["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}' (remove it or check its spelling)")
        elif error["type"] == "missing":
            problems.append(f"missing key '{key}'")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"'{key}': {message}")
    return "; ".join(problems)


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key_path, sep, text = override.partition("=")
    if not sep or not key_path.strip():
        msg = f"--set {override!r} must look like key.path=value (e.g. split.seed=7)"
        raise ConfigError(msg)
    *parents, leaf = key_path.strip().split(".")
    node = raw
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            msg = f"--set {override!r}: '{part}' is not a section of the config"
            raise ConfigError(msg)
        node = child
    # YAML parsing gives `--set split.seed=7` an int and `--set features=[a, b]` a list.
    try:
        node[leaf] = read_yaml(text, origin=f"--set {key_path.strip()}") if text.strip() else None
    except yaml.YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0]
        msg = f"--set {override!r} is not a YAML value ({first_line}); quote it or fix it"
        raise ConfigError(msg) from None
    except YamlLimitError as exc:
        raise ConfigError(str(exc)) from None

"""The albumentations pipeline of an image run: built from transform names and their own
parameters (or loaded from a file saved by `albumentations.save`), tried on test images, and
saved beside the outputs.

Transform names and parameter names are checked by the config model already
(`rebalance.config.images`); building the transforms checks the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rebalance.config.transforms import check_augmentations, describe_parameter_errors
from rebalance.config.yaml_reader import YamlLimitError, read_yaml
from rebalance.errors import ConfigError

# Scale, crop/pad, rotate, flip and color jitter, in moderate ranges (what image classifiers
# are usually trained with). CropAndPad's negative percents crop, positive ones pad; borders
# reflect the image (border_mode 4, cv2.BORDER_REFLECT_101) instead of filling with black.
DEFAULT_AUGMENTATIONS: list[dict[str, dict[str, Any]]] = [
    {"Affine": {"scale": [0.9, 1.1], "rotate": [-15, 15], "border_mode": 4, "p": 0.7}},
    {"CropAndPad": {"percent": [-0.1, 0.1], "keep_size": True, "border_mode": 4, "p": 0.5}},
    {"HorizontalFlip": {"p": 0.5}},
    {"ColorJitter": {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.0, "p": 0.8}},
]
PIPELINE_FILE = "augmentations.yaml"


def build_pipeline(spec: Sequence[str | Mapping[str, Any]] | Path | None, /, *, seed: int):
    """An `albumentations.Compose` from transform names and params, a saved file, or defaults.

    Raises:
        ConfigError: an unknown transform or parameter, bad parameter values, an unreadable
            file, or a pipeline that fails on a test image; the message names it.
    """
    import albumentations as A

    try:  # names and parameter names, as the config model checks them
        check_augmentations(spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(spec, Path):
        transforms = _load_saved(spec)
    else:
        items = DEFAULT_AUGMENTATIONS if spec is None else spec
        transforms = [_transform(item, position) for position, item in enumerate(items)]
    # Linear interpolation of the alpha mask keeps anti-aliased edges smooth.
    compose = A.Compose(transforms, seed=seed, save_applied_params=True, mask_interpolation=1)
    _try_on_test_images(compose)
    return compose


def pipeline_dict(compose, /) -> dict[str, Any]:
    """albumentations' own serialized form of the pipeline (what `A.from_dict` reads)."""
    import albumentations as A

    return A.to_dict(compose)


def compose_from_dict(serialized: Mapping[str, Any], /):
    """Rebuild a pipeline in a worker (each shard has its own, so no state is shared)."""
    import albumentations as A

    compose = A.from_dict(dict(serialized))
    compose.save_applied_params = True
    return compose


def save_pipeline(compose, path: Path, /) -> None:
    """Write the pipeline with `albumentations.save` (YAML), loadable with `A.load`."""
    import albumentations as A

    A.save(compose, str(path), data_format="yaml")


def describe(compose, /) -> str:
    """`Affine, CropAndPad, ...`: the transform names, for logs."""
    return ", ".join(type(transform).__name__ for transform in compose.transforms)


def _transform(item: str | Mapping[str, Any], position: int):
    import albumentations as A

    name, params = (item, {}) if isinstance(item, str) else next(iter(item.items()))
    try:
        return getattr(A, name)(**dict(params or {}))
    except (ValueError, TypeError) as exc:
        described = describe_parameter_errors(name, exc)
        reason = described or f"invalid parameters for {name} ({' '.join(str(exc).split())[:300]})"
        msg = (
            f"rebalance.augmentations[{position}]: {reason}; see {name} in the albumentations docs"
        )
        raise ConfigError(msg) from None


def _load_saved(path: Path):
    import albumentations as A

    kind = "json" if path.suffix.lower() == ".json" else "yaml"
    if not path.is_file():
        msg = f"rebalance.augmentations file not found: {path} (relative to the config's folder)"
        raise ConfigError(msg)
    try:
        if kind == "yaml":
            # Read by us, not by A.load: an alias bomb must be refused before albumentations
            # validates (and so expands) the parameters it holds.
            data = read_yaml(path.read_text(encoding="utf-8"), origin=f"{path}")
            loaded = A.from_dict(data)
        else:
            loaded = A.load(str(path), data_format=kind)
    except YamlLimitError as exc:
        msg = f"rebalance.augmentations file {exc}"
        raise ConfigError(msg) from None
    except Exception as exc:  # albumentations raises many kinds for a malformed file
        name = str(getattr(exc, "title", "") or "a transform")
        reason = describe_parameter_errors(name, exc)
        reason = reason or " ".join(str(exc).split())[:200] or type(exc).__name__
        msg = (
            f"rebalance.augmentations file {path} is not a pipeline saved by "
            f"albumentations.save ({reason})"
        )
        raise ConfigError(msg) from None
    return list(loaded.transforms) if hasattr(loaded, "transforms") else [loaded]


def _try_on_test_images(compose) -> None:
    samples = {
        "RGB": np.full((32, 32, 3), 128, np.uint8),
        "grayscale": np.full((32, 32), 128, np.uint8),
        "16-bit": np.full((32, 32), 30000, np.uint16),
    }
    for kind, image in samples.items():
        try:
            compose.set_random_seed(0)
            compose(image=image, mask=np.full((32, 32), 255, np.uint8))
        except Exception as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            msg = (
                f"rebalance.augmentations fail on a {kind} image ({reason}); use transforms "
                "that work on plain images"
            )
            raise ConfigError(msg) from None
    compose.set_random_seed(None)

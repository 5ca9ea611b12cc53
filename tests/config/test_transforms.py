"""Augmentation names and parameter names are checked when the config loads."""

import pytest

from rebalance.config import parse_config
from rebalance.config.vocabulary import TRANSFORM_PARAMS
from rebalance.errors import ConfigError

BASE = {"name": "d", "modality": "image", "source": "pictures"}


@pytest.mark.parametrize(
    ("augmentations", "expected"),
    [
        (
            ["HorizntalFlip"],
            r"\[0\]: 'HorizntalFlip' is not an albumentations transform; did you mean "
            "HorizontalFlip",
        ),
        (
            [{"HorizontalFlip": {"p": 0.5}}, {"Rotate": {"limt": 10}}],
            r"\[1\]: Rotate has no parameter 'limt' \(did you mean 'limit'\?\)",
        ),
        ([{"Rotate": {"limit": 10}, "Blur": {}}], r"\[0\] must be a transform name or"),
        ("pipeline.txt", r"file pipeline\.txt must be \.yaml, \.yml or \.json"),
    ],
)
def test_a_bad_augmentation_is_refused_when_the_config_loads(augmentations, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_config({**BASE, "rebalance": {"augmentations": augmentations}})


def test_known_transforms_and_their_parameters_pass():
    config = parse_config(
        {**BASE, "rebalance": {"augmentations": ["HorizontalFlip", {"Affine": {"scale": 1.1}}]}}
    )

    assert config.rebalance.augmentations[0] == "HorizontalFlip"


def test_the_vocabulary_names_every_albumentations_transform_and_its_parameters():
    import inspect

    import albumentations as A

    transforms = {
        name: cls
        for name in dir(A)
        if inspect.isclass(cls := getattr(A, name)) and issubclass(cls, A.BasicTransform)
    }

    assert set(TRANSFORM_PARAMS) == set(transforms)
    for name, cls in transforms.items():
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}
        assert set(TRANSFORM_PARAMS[name]) == accepted, name

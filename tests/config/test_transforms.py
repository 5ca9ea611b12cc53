"""Augmentation names and parameter names are checked when the config loads."""

from typing import Literal

import pydantic
import pytest

from rebalance.config import parse_config
from rebalance.config.transforms import describe_parameter_errors
from rebalance.config.vocabulary import TRANSFORM_PARAMS, TRANSFORM_VALUES
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


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"p": 2}, r"\[0\]: Affine parameter 'p' must be less than or equal to 1, not 2$"),
        ({"p": -0.5}, r"'p' must be greater than or equal to 0, not -0\.5$"),
        ({"border_mode": 99}, r"'border_mode' must be 0, 1, 2, 3 or 4, not 99$"),
        ({"rotate_method": "circle"}, r"must be 'largest_box' or 'ellipse', not 'circle'$"),
    ],
)
def test_a_parameter_value_albumentations_bounds_is_refused_when_the_config_loads(params, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_config({**BASE, "rebalance": {"augmentations": [{"Affine": params}]}})


@pytest.mark.parametrize("params", [{"p": 1}, {"p": 0.0}, {"border_mode": 4}, {"p": "0.5"}])
def test_values_within_the_bounds_or_left_to_albumentations_pass(params):
    parse_config({**BASE, "rebalance": {"augmentations": [{"Affine": params}]}})


def _breaking(constraint: tuple) -> list:
    if constraint[0] == "options":
        options = constraint[1]
        numbers = [option for option in options if isinstance(option, int)]
        return [max(numbers) + 100] if numbers else ["no such option"]
    ge, gt, le, lt = constraint[1:]
    values = [ge - 1 if ge is not None else None, gt, le + 1 if le is not None else None, lt]
    return [value for value in values if value is not None]


def test_every_value_the_config_refuses_albumentations_refuses_too():
    import albumentations as A

    checked = 0
    for name, params in TRANSFORM_VALUES.items():
        for param, constraint in params.items():
            for value in _breaking(constraint):
                with pytest.raises(ConfigError, match=f"{name} parameter '{param}' must be"):
                    parse_config({**BASE, "rebalance": {"augmentations": [{name: {param: value}}]}})
                with pytest.raises(ValueError) as refused:
                    getattr(A, name)(**{param: value})
                causes = refused.value.__cause__.errors()
                assert param in {error["loc"][0] for error in causes if error["loc"]}, (name, param)
                checked += 1

    assert checked > 150


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


class _Schema(pydantic.BaseModel):
    p: float = pydantic.Field(0.5, ge=0, le=1)
    mode: Literal[0, 1] = 0
    limit: tuple[float, float] | float = 0

    @pydantic.field_validator("limit")
    @classmethod
    def _positive(cls, value):
        if isinstance(value, float) and value < 0:
            msg = "limit must be non negative."
            raise ValueError(msg)
        return value


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"p": 1.5}, "Flip parameter 'p' must be less than or equal to 1, not 1.5"),
        ({"mode": 3}, "Flip parameter 'mode' must be 0 or 1, not 3"),
        ({"limit": "x"}, "Flip parameter 'limit' must be a valid tuple or a valid number, not 'x'"),
        ({"limit": -2.0}, "Flip parameter 'limit' = -2.0: limit must be non negative"),
        (
            {"p": -1, "mode": 2},
            "Flip parameter 'p' must be greater than or equal to 0, not -1; "
            "Flip parameter 'mode' must be 0 or 1, not 2",
        ),
    ],
)
def test_a_libraries_pydantic_refusal_becomes_one_clause_per_parameter(params, expected):
    try:
        _Schema(**params)
    except pydantic.ValidationError as exc:
        # As albumentations re-raises it: a ValueError of pydantic's report, caused by it.
        wrapped = ValueError(str(exc))
        wrapped.__cause__ = exc
        described = describe_parameter_errors("Flip", wrapped)

    assert described == expected


def test_an_error_that_is_not_pydantics_is_left_to_the_caller():
    assert describe_parameter_errors("Flip", ValueError("x must be odd")) is None

"""Reseeding a pipeline in place draws what `set_random_seed` draws."""

import albumentations as A
import numpy as np
import pytest

from tasks.images.pipeline import build_pipeline
from tasks.images.seeding import Reseeder

IMAGE = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _default():
    return build_pipeline(None, seed=0)


def _nested():
    # Compose-level draws (OneOf's choice, SomeOf's sample), Python-random p draws and
    # numpy-drawn parameters, one level down.
    return A.Compose(
        [
            A.OneOf([A.HorizontalFlip(p=1), A.VerticalFlip(p=1), A.Transpose(p=1)], p=0.9),
            A.SomeOf(
                [A.RandomBrightnessContrast(p=1), A.GaussNoise(p=1), A.ChannelShuffle(p=1)],
                n=2,
                p=0.8,
            ),
            A.CoarseDropout(p=0.5),
        ],
        seed=1,
        save_applied_params=True,
    )


def _draws(compose, seed, reseed=None):
    (reseed or compose.set_random_seed)(seed)
    result = compose(image=IMAGE)
    return result["image"], repr(result["applied_transforms"])


@pytest.mark.parametrize("make", [_default, _nested])
def test_reseeding_in_place_gives_set_random_seeds_images_and_params(make):
    reference, reseeded = make(), make()
    reseed = Reseeder(reseeded)
    assert reseed._holders is not None  # the fast path, not the fallback

    outcomes = set()
    for seed in [0, 1, 2, 7, 2**31 - 1, 2**32 - 1, *range(100, 140)]:
        image, params = _draws(reseeded, seed, reseed)
        expected_image, expected_params = _draws(reference, seed)
        assert params == expected_params, seed
        assert np.array_equal(image, expected_image), seed
        outcomes.add(params)
    assert len(outcomes) > 30  # the seeds drew different things


def test_a_seed_reused_after_others_draws_the_same_again():
    compose = _default()
    reseed = Reseeder(compose)
    first = _draws(compose, 5, reseed)
    _draws(compose, 6, reseed)
    again = _draws(compose, 5, reseed)
    assert first[1] == again[1] and np.array_equal(first[0], again[0])


def test_generators_shared_by_set_random_state_are_made_distinct():
    reference, shared = _default(), _default()
    shared.set_random_state(np.random.default_rng(0), __import__("random").Random(0))
    reseed = Reseeder(shared)
    generators = {id(holder.random_generator) for holder in reseed._holders}
    assert len(generators) == len(reseed._holders)
    for seed in range(20):
        assert _draws(shared, seed, reseed)[1] == _draws(reference, seed)[1]


class _OwnSeeding(A.HorizontalFlip):
    def set_random_seed(self, seed):
        super().set_random_seed(None if seed is None else seed + 1)


def test_a_transform_with_its_own_set_random_seed_takes_set_random_seed():
    def make():
        return A.Compose(
            [_OwnSeeding(p=0.5), A.RandomBrightnessContrast(p=0.5)],
            seed=0,
            save_applied_params=True,
        )

    reference, other = make(), make()
    reseed = Reseeder(other)
    assert reseed._holders is None
    draws = [_draws(other, seed, reseed)[1] for seed in range(20)]
    assert draws == [_draws(reference, seed)[1] for seed in range(20)]

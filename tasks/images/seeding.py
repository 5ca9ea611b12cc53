"""Reseeding an albumentations pipeline per image without building new generators.

`Compose.set_random_seed(seed)` gives the pipeline and each of its transforms a new
`np.random.default_rng(seed)` and a new `random.Random(seed)`: ten new objects for the
default pipeline, on every image. `Reseeder` builds one PCG64 for the seed, copies its state
into the numpy generators the pipeline already holds and reseeds its `random.Random`s in place,
so the draws that follow are the ones `set_random_seed` would give (tested).
A pipeline it cannot reseed this way (a transform or compose of its own with another
`set_random_seed`, or another bit generator) is reseeded by `set_random_seed` itself.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np


class Reseeder:
    """`reseed(seed)` does what `compose.set_random_seed(seed)` does, with fewer new objects.

    Args:
        compose: The pipeline; its generators are made distinct objects here (a pipeline given
            one shared generator by `set_random_state` would draw differently otherwise).
    """

    def __init__(self, compose: Any, /) -> None:
        self._compose = compose
        compose.set_random_seed(getattr(compose, "seed", None))
        holders = list(_holders(compose))
        self._holders = holders if holders and all(map(_copyable, holders)) else None

    def __call__(self, seed: int, /) -> None:
        if self._holders is None:
            self._compose.set_random_seed(seed)
            return
        # np.random.default_rng(seed) is Generator(PCG64(seed)); a Generator keeps no state
        # of its own beyond its bit generator's (which includes the buffered 32 bits).
        numpy_state = np.random.PCG64(seed).state
        for holder in self._holders:
            holder.seed = seed
            holder.random_generator.bit_generator.state = numpy_state
            # Random.seed in place is Random(seed) (both clear gauss_next), and cheaper than
            # copying a state of 625 words.
            holder.py_random.seed(seed)


def _holders(compose: Any):
    """The pipeline and every transform under it, as `set_random_seed` walks them."""
    from albumentations.core.composition import BaseCompose
    from albumentations.core.transforms_interface import BasicTransform

    yield compose
    for transform in compose.transforms:
        if isinstance(transform, BaseCompose):
            yield from _holders(transform)
        elif isinstance(transform, BasicTransform):
            yield transform


def _copyable(holder: Any) -> bool:
    from albumentations.core.composition import BaseCompose
    from albumentations.core.transforms_interface import BasicTransform

    own = type(holder).set_random_seed
    if own not in (BaseCompose.set_random_seed, BasicTransform.set_random_seed):
        return False
    generator = getattr(holder, "random_generator", None)
    return (
        isinstance(generator, np.random.Generator)
        and type(generator.bit_generator) is np.random.PCG64
        and type(getattr(holder, "py_random", None)) is random.Random
    )

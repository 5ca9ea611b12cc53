"""EDA (Wei & Zou 2019) without a thesaurus: random swap, deletion and insertion of words.

The model-free, offline way to paraphrase. Inserted words come from the class's own training
texts ("in-corpus"), so no outside vocabulary enters. Whitespace between words (newlines
included) is kept where it was, and words are never changed inside, so emoji, right-to-left
scripts and combining marks stay intact.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

OPERATIONS = ("swap", "delete", "insert")
_SPACE = re.compile(r"(\s+)")


def words_of(text: str, /) -> list[str]:
    """The text's words (runs of non-whitespace)."""
    return text.split()


def eda_paraphrase(
    text: str, /, *, vocabulary: Sequence[str], alpha: float, rng: np.random.Generator
) -> str:
    """One paraphrase of `text`: about `alpha` × words operations of one random kind.

    Args:
        text: The source text.
        vocabulary: Words that `insert` may add (the class's training words).
        alpha: Share of the text's words changed (at least one change).
        rng: The generator; one per paraphrase, seeded by the caller.
    """
    parts = _SPACE.split(text.strip())
    words = parts[0::2]
    gaps = parts[1::2]
    changes = max(1, round(alpha * len(words)))
    operation = OPERATIONS[int(rng.integers(len(OPERATIONS)))]
    if len(words) < 2 and operation != "insert":
        operation = "insert"
    for _ in range(changes):
        if operation == "swap":
            first, second = rng.choice(len(words), size=2, replace=False)
            words[first], words[second] = words[second], words[first]
        elif operation == "delete" and len(words) > 1:
            position = int(rng.integers(len(words)))
            del words[position]
            del gaps[min(position, len(gaps) - 1)]
        elif operation == "insert" and vocabulary:
            position = int(rng.integers(len(words) + 1))
            words.insert(position, vocabulary[int(rng.integers(len(vocabulary)))])
            gaps.insert(min(position, len(gaps)), " ")
    pieces = [words[0]] if words else []
    for gap, word in zip(gaps, words[1:], strict=False):
        pieces += [gap, word]
    return "".join(pieces)


def eda_rng(seed: int, round_index: int, text: str, /) -> np.random.Generator:
    """A generator for one paraphrase: the same (seed, round, text) gives the same output."""
    digest = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng([seed, round_index, digest])

"""The "did you mean" part of a config error, worded alike for every vocabulary.

Samplers, expectations and transforms each check names (a class) and parameters against
their library's vocabulary; a misspelling gets the closest entries by `difflib`'s ratio.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def name_hint(name: str, choices: Iterable[str], /, *, cutoff: float = 0.6) -> str:
    """`"did you mean A or B? "` (up to three names), or "" when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=cutoff)
    return f"did you mean {' or '.join(close)}? " if close else ""


def parameter_hint(name: str, choices: Iterable[str], /) -> str:
    """`" (did you mean 'x'?)"` for the closest parameter, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""

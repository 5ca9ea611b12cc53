"""Markdown from Jinja2 templates, with every value escaped for markdown.

Jinja's autoescaping is for HTML; markdown needs its own. A class name such as `a|b`,
`<img src=x>` or `**x**` must show as written: not split a table cell, run as HTML or turn
bold. In these templates every `{{ value }}` goes through `escape_markdown` (the environment's
`finalize`); `{{ value | code }}` writes it as a code span instead (`code(in_table=True)` inside
a table row); `{{ text | safe }}` passes markdown that is already safe (our own literals, a
section another template rendered, the chart's data URI).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

# ASCII punctuation that markdown (CommonMark with GitHub's tables and strikethrough) or its
# inline HTML gives a meaning; a backslash before each makes it literal.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")
_BACKTICKS = re.compile(r"`+")


def escape_markdown(value: Any, /) -> str:
    """`value` as literal markdown text on one line (line breaks become spaces)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).splitlines()))


def code_span(value: Any, /, *, in_table: bool = False) -> Markup:
    """`value` as a code span on one line: a fence longer than any run of backticks in it, and
    `\\|` for a pipe inside a table row (where GitHub's tables split cells before code spans)."""
    text = " ".join(str(value).splitlines())
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return Markup(f"{fence}{text}{fence}")


def _finalize(value: Any) -> Any:
    return value if isinstance(value, Markup) else escape_markdown(value)


@functools.cache
def _environment(folder: Path) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(folder),
        autoescape=False,
        finalize=_finalize,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["code"] = code_span
    return environment


def render(template: Path, /, **context: Any) -> str:
    """Render a markdown template file (`.md.j2`) with `context`."""
    return _environment(template.parent).get_template(template.name).render(**context)

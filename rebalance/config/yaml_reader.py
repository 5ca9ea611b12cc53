"""YAML from the user (a config, a `--set` value, prefect.yaml, a saved augmentations file),
read with a bound on what its aliases may expand to.

PyYAML shares an aliased node instead of copying it, so `b: &b [*a, *a, ...]` nested nine deep
loads in microseconds, but anything that walks the result (the rerun fingerprint's JSON, a
`repr` in an error message, a library's own validation) visits 9**9 values and never ends;
C code such as `json.dumps` does not even see Ctrl-C. Like go-yaml ("excessive aliasing") we
count the values each alias brings in before anything is built from the document, and refuse
a document past `MAX_VALUES`, or one whose alias refers to a node that contains it. Anchors,
aliases and `<<: *defaults` merges within that bound read as they always did.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

# Every key and value after the aliases are expanded. A config is a few hundred; a long
# `expect_column_values_to_be_in_set` list a few thousand.
MAX_VALUES = 100_000


class YamlLimitError(ValueError):
    """The document's aliases expand past `MAX_VALUES`, or refer to themselves."""


def read_yaml(text: str, /, *, origin: str) -> Any:
    """`yaml.safe_load(text)`, refusing a document whose aliases expand past `MAX_VALUES`.

    Args:
        text: the YAML document.
        origin: what to call it in a message (the file, or `--set key=...`).

    Raises:
        yaml.YAMLError: the text is not YAML.
        YamlLimitError: the aliases expand too far, refer to themselves, or the document
            nests too deeply for the parser; the message names `origin`, the key and the fix.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            msg = f"{origin} nests lists or mappings too deeply to read; flatten it"
            raise YamlLimitError(msg) from None
        if node is None:
            return None
        _check_expansion(node, origin=origin)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: Node, /, *, origin: str) -> None:
    sizes = _expanded_sizes(root, origin=origin)
    if sizes[id(root)] <= MAX_VALUES:
        return
    where = _largest_key(root, sizes)
    at = f" at '{where}'" if where else ""
    msg = (
        f"{origin}: its YAML aliases{at} expand to more than {MAX_VALUES:,} values (anchors "
        "nested inside anchors); write the values out, or alias fewer of them"
    )
    raise YamlLimitError(msg)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_sizes(root: Node, /, *, origin: str) -> dict[int, int]:
    """How many values each node stands for once aliases are copied, capped past the bound.

    Each node is counted once however often it is aliased, so this takes time in the size
    of the text, not of the expansion. Iterative: a deep document must not hit Python's
    recursion limit here.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = min(total, MAX_VALUES + 1)
            continue
        if key in sizes:
            continue
        if key in on_path:
            line = node.start_mark.line + 1
            msg = (
                f"{origin}: a YAML alias refers to the anchor it is inside (the anchor on line "
                f"{line}), which has no end; alias only finished anchors"
            )
            raise YamlLimitError(msg)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children(node)))
    return sizes


def _largest_key(root: Node, sizes: dict[int, int]) -> str:
    """The dotted key path down to the mapping entry that holds most of the expansion."""
    path: list[str] = []
    node = root
    while isinstance(node, MappingNode) and node.value:
        key, value = max(node.value, key=lambda pair: sizes[id(pair[1])])
        if sizes[id(value)] <= MAX_VALUES:
            break
        path.append(str(key.value) if not isinstance(key.value, list) else "?")
        node = value
    return ".".join(path)

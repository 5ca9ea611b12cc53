"""The modalities by the config's `modality` name: the one place that knows all of them.

Each modality is a package under `tasks/` whose `modality` module exposes `MODALITY` (see
`tasks.core.contract.Modality`). It is imported on first use, so a run imports the modality
it needs and not the others (images bring OpenCV and Pillow, text brings the translators).
A new modality is one package and one line here.
"""

from __future__ import annotations

import importlib

from tasks.core.contract import Modality

MODALITIES = {
    "tabular": "tasks.tabular.modality",
    "image": "tasks.images.modality",
    "text": "tasks.text.modality",
}


def modality_for(name: str, /) -> Modality:
    """The modality implementation for a config's `modality` value."""
    if name not in MODALITIES:
        msg = f"unknown modality '{name}'; known: {', '.join(MODALITIES)}"
        raise ValueError(msg)
    return importlib.import_module(MODALITIES[name]).MODALITY

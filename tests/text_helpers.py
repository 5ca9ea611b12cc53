"""Builders for text tests: configs and small training frames with realistic flaws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from rebalance.config import TextConfig, parse_config
from tasks.core.columns import Columns

COLUMNS = Columns(label="label", features=("text",), id_column="row_id")


def text_config(tmp_path: Path, /, **rebalance: Any) -> TextConfig:
    """A text config whose outputs and translation cache live under `tmp_path`."""
    options = {
        "max_new_tokens": 8,
        "num_threads": 1,
        "min_length_ratio": 0.0,
        "max_length_ratio": 1000.0,
        "cache_dir": str(tmp_path / "cache"),
        **rebalance,
    }
    seed = options.pop("seed", 42)
    config = parse_config(
        {
            "name": "t",
            "modality": "text",
            "source": str(tmp_path / "texts.jsonl"),
            "label": "label",
            "output": str(tmp_path / "out"),
            "split": {"seed": seed},
            "rebalance": options,
        }
    )
    assert isinstance(config, TextConfig)
    return config


def train_frame(majority: int = 20, minorities: dict[str, int] | None = None) -> pl.DataFrame:
    """`order` texts and smaller classes, with multi-line, RTL and emoji texts among them."""
    minorities = minorities or {"refund": 4, "security": 3}
    texts = [f"my order {index} has not arrived yet" for index in range(majority)]
    labels = ["order"] * majority
    extras = [
        "please refund\nthe double payment 👍🏽",
        "مرحبا، أريد استرداد المبلغ",
        "refund for order 77 was partial",
        "I returned the parcel\n\nno refund yet",
        "someone changed my email 🙁",
        "password reset mail I never asked for",
        "login from an unknown country",
    ]
    position = 0
    for name, count in minorities.items():
        for _ in range(count):
            texts.append(extras[position % len(extras)] + ("" if position < 7 else f" #{position}"))
            labels.append(name)
            position += 1
    return pl.DataFrame({"row_id": list(range(1, len(texts) + 1)), "text": texts, "label": labels})

"""Paraphrasing is seeded by `rebalance.random_state` (the split's seed when it is empty)."""

import polars as pl

from tasks.text.rebalance import rebalance_texts
from tests.text_helpers import COLUMNS, text_config, train_frame


def _paraphrases(tmp_path, **rebalance):
    config = text_config(tmp_path, method="eda", seed=5, **rebalance)
    result = rebalance_texts(train_frame(10, {"refund": 4}), columns=COLUMNS, config=config)
    return result.frame.filter(pl.col("is_synthetic"))["text"].to_list()


def test_random_state_redraws_the_paraphrases_and_defaults_to_the_split_seed(tmp_path):
    default = _paraphrases(tmp_path / "a")
    same = _paraphrases(tmp_path / "b", random_state=5)
    other = _paraphrases(tmp_path / "c", random_state=6)

    assert default == same
    assert len(default) == len(other) == 6
    assert default != other

"""Paraphrasing is seeded by `rebalance.random_state` (the split's seed when it is empty)."""

import polars as pl

from tasks.core.conflicts import labelled_identities
from tasks.text.modality import MODALITY as TEXT
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


def test_a_paraphrase_equal_to_a_val_text_of_another_class_is_replaced_and_counted(tmp_path):
    config = text_config(tmp_path, method="eda", seed=5)
    train = train_frame(10, {"refund": 4})
    first = rebalance_texts(train, columns=COLUMNS, config=config)
    taken = first.frame.filter(pl.col("is_synthetic"))["text"][0]
    # The same text, written otherwise, is an "order" text in val.
    val = pl.DataFrame({"text": [f"  {taken.upper()} "], "label": ["order"]})
    holdout = labelled_identities(TEXT.sample_identity(val, COLUMNS), val["label"])

    result = rebalance_texts(train, columns=COLUMNS, config=config, holdout=holdout)

    texts = result.frame.filter(pl.col("is_synthetic"))["text"].to_list()
    assert taken not in texts
    assert len(texts) == 6  # a later candidate took its place
    assert result.conflicts.as_manifest()["per_class"] == {
        "refund": {"found": 1, "replaced": 1, "dropped": 0}
    }
    assert first.conflicts.found == 0

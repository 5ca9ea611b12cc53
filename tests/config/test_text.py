"""The text config: one member of RunConfig's union on `modality`, with its documented defaults."""

import pytest

from rebalance.config import TabularConfig, TextConfig, load_config
from rebalance.errors import ConfigError


def _write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_modality_text_gives_a_text_config_with_the_documented_defaults(tmp_path):
    config = load_config(_write(tmp_path, "name: d\nmodality: text\nsource: t.jsonl\nlabel: y\n"))

    assert isinstance(config, TextConfig)
    assert config.text_column == "text"
    assert config.validation.null_policy == "fail"
    assert config.validation.bad_text_policy == "fail"
    options = config.rebalance
    assert options.method == "back_translation"
    assert options.pivots == ["de"]
    assert options.model == "Helsinki-NLP/opus-mt-{src}-{tgt}"
    assert options.source_language == "en"
    assert options.target == "majority"
    assert options.fallback is None
    assert (options.do_sample, options.top_p, options.num_beams) == (True, 0.9, 1)
    assert (options.min_length_ratio, options.max_length_ratio) == (0.5, 2.0)


def test_a_config_without_modality_is_still_tabular(tmp_path):
    config = load_config(_write(tmp_path, "name: d\nsource: t.csv\nlabel: y\n"))

    assert isinstance(config, TabularConfig)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rebalance: {pivot: [fr]}", "unknown key 'rebalance.pivot'"),
        ("rebalance: {sampler: SMOTE}", "unknown key 'rebalance.sampler'"),
        ("validation: {bad_texts: drop}", "unknown key 'validation.bad_texts'"),
        (
            "rebalance: {target: {refund: 0}}",
            "'rebalance.target': must be 'majority', a count of at least 1",
        ),
        ("rebalance: {pivots: [en]}", "must not include the source language"),
        ("rebalance: {model: opus-mt}", "must contain {tgt}"),
        ("rebalance: {min_length_ratio: 3}", "must be below max_length_ratio"),
    ],
)
def test_bad_text_keys_are_named(tmp_path, text, expected):
    path = _write(tmp_path, f"name: d\nmodality: text\nsource: t.jsonl\nlabel: y\n{text}\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert expected in str(caught.value)


def test_an_unknown_modality_lists_the_known_ones(tmp_path):
    path = _write(tmp_path, "name: d\nmodality: audio\nsource: t.wav\nlabel: y\n")

    with pytest.raises(
        ConfigError, match=r"'modality': 'audio' is not one of tabular, image, text"
    ):
        load_config(path)


def test_set_overrides_reach_the_text_sections(tmp_path):
    path = _write(tmp_path, "name: d\nmodality: text\nsource: t.jsonl\nlabel: y\n")

    config = load_config(path, overrides=["rebalance.pivots=[de, fr]", "rebalance.target=50"])

    assert config.rebalance.pivots == ["de", "fr"]
    assert config.rebalance.target == 50

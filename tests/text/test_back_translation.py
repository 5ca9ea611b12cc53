"""Back-translation through tiny local MarianMT models: real loading, batching, generation."""

import hashlib
import json

import polars as pl
import pytest

from rebalance.errors import ConfigError
from tasks.text.rebalance import rebalance_texts
from tasks.text.translators import Decoding, ModelUnavailable, Runtime, load_marian, token_batches
from tests.text_helpers import COLUMNS, text_config, train_frame


def _synthetic(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("is_synthetic"))


def _cached_inputs(cache_dir) -> set[str]:
    """sha256 digests of every text the cache holds a translation of."""
    keys = set()
    for part in cache_dir.rglob("*.jsonl"):
        for line in part.read_text(encoding="utf-8").splitlines():
            keys.add(json.loads(line)["key"].split(":")[0])
    return keys


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_only_minority_training_texts_are_translated_and_counts_reach_the_target(
    marian_template, tmp_path
):
    train = train_frame(20, {"refund": 4, "security": 3})
    config = text_config(tmp_path, model=marian_template, target=9, samples_per_pivot=3)

    result = rebalance_texts(train, columns=COLUMNS, config=config)

    counts = dict(result.frame.group_by("label").len().iter_rows())
    assert counts == {"order": 20, "refund": 9, "security": 9}
    synthetic = _synthetic(result.frame)
    minority = train.filter(pl.col("label") != "order")
    assert set(synthetic["source_row_id"]) <= set(minority["row_id"])
    # Each synthetic row's label is its source's label.
    joined = synthetic.join(
        train.select(pl.col("row_id").alias("source_row_id"), pl.col("label").alias("src")),
        on="source_row_id",
    )
    assert (joined["label"] == joined["src"]).all()
    # What reached the translator: 5 + 6 paraphrases, each translated there and back.
    assert result.facts.details.texts_translated == 2 * 11
    forward_inputs = {_sha(text) for text in minority["text"]}
    majority_inputs = {_sha(text) for text in train.filter(pl.col("label") == "order")["text"]}
    cached = _cached_inputs(tmp_path / "cache")
    assert forward_inputs <= cached
    assert not majority_inputs & cached
    assert set(synthetic["pivot"]) == {"de"}
    assert synthetic["model"][0].endswith(
        "opus-mt-en-de → " + marian_template.format(src="de", tgt="en")
    )
    assert result.facts.per_class["refund"].accepted == 5
    assert (
        result.frame.filter(~pl.col("is_synthetic"))
        .drop("is_synthetic", "source_row_id", "pivot", "model")
        .equals(train)
    )


def test_a_second_run_with_the_cache_translates_nothing_and_gives_the_same_rows(
    marian_template, tmp_path
):
    train = train_frame(12, {"refund": 4})
    config = text_config(tmp_path, model=marian_template)

    first = rebalance_texts(train, columns=COLUMNS, config=config)
    second = rebalance_texts(train, columns=COLUMNS, config=config)

    assert first.facts.details.texts_translated == 2 * 8
    assert second.facts.details.texts_translated == 0
    assert second.facts.details.cache["misses"] == 0
    assert second.facts.details.cache["hits"] == 2 * 8
    assert second.frame.equals(first.frame)


def test_a_bounded_cache_evicts_and_the_rows_stay_the_same(marian_template, tmp_path):
    # Greedy decoding: a text translated again gives the same translation whatever batch it
    # lands in (sampled decoding is seeded per batch, so an evicted text may come back as
    # another paraphrase).
    train = train_frame(12, {"refund": 4})
    first = rebalance_texts(
        train, columns=COLUMNS, config=text_config(tmp_path, model=marian_template, do_sample=False)
    )
    size = sum(part.stat().st_size for part in (tmp_path / "cache").rglob("*.jsonl"))
    bounded = text_config(
        tmp_path, model=marian_template, do_sample=False, cache_max_bytes=size // 2
    )

    evicting = rebalance_texts(train, columns=COLUMNS, config=bounded)
    after = sum(part.stat().st_size for part in (tmp_path / "cache").rglob("*.jsonl"))
    again = rebalance_texts(train, columns=COLUMNS, config=bounded)

    assert first.facts.details.cache["entries_evicted"] == 0
    assert evicting.facts.details.texts_translated == 0  # every text was still cached
    assert evicting.facts.details.cache["entries_evicted"] > 0
    assert after <= 0.9 * (size // 2)
    assert again.facts.details.texts_translated > 0  # the evicted ones, translated again
    assert evicting.frame.equals(first.frame)
    assert again.frame.equals(first.frame)


def test_the_same_seed_gives_the_same_paraphrases_and_another_seed_others(
    marian_template, tmp_path
):
    train = train_frame(10, {"refund": 4})

    runs = [
        rebalance_texts(
            train,
            columns=COLUMNS,
            config=text_config(tmp_path / name, model=marian_template, seed=seed),
        )
        for name, seed in (("a", 1), ("b", 1), ("c", 2))
    ]

    texts = [_synthetic(run.frame)["text"].to_list() for run in runs]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]
    assert len(texts[0]) == 6


def test_greedy_decoding_without_sampling_is_reproducible_too(marian_template, tmp_path):
    train = train_frame(6, {"refund": 4})

    runs = [
        rebalance_texts(
            train,
            columns=COLUMNS,
            config=text_config(tmp_path / name, model=marian_template, do_sample=False),
        )
        for name in ("a", "b")
    ]

    assert _synthetic(runs[0].frame)["text"].equals(_synthetic(runs[1].frame)["text"])
    assert runs[0].params["do_sample"] is False


def test_inputs_beyond_the_model_limit_are_truncated_and_counted(marian_template, tmp_path):
    megabyte = ("refund please " * 80_000)[: 1 << 20]
    train = pl.concat(
        [
            train_frame(6, {"refund": 2}),
            pl.DataFrame({"row_id": [99], "text": [megabyte], "label": ["refund"]}),
        ]
    )
    config = text_config(tmp_path, model=marian_template, target=6)

    result = rebalance_texts(train, columns=COLUMNS, config=config)

    assert result.facts.details.truncated_inputs["en→de"] == 1
    assert result.facts.details.truncated_inputs["de→en"] == 0
    assert result.frame.filter(pl.col("row_id") == 99)["text"][0] == megabyte
    assert "truncated to the model's limit: {'de→en': 0, 'en→de': 1}" in (result.report_sections[0])


def test_batching_sorts_by_length_and_matches_one_at_a_time_without_sampling(marian_template):
    decoding = Decoding(max_new_tokens=6, num_beams=1, do_sample=False, top_p=1, temperature=1)
    name = marian_template.format(src="en", tgt="de")
    batched = load_marian(
        name, revision=None, local_files_only=True, decoding=decoding, runtime=Runtime(batch_size=4)
    )
    single = load_marian(
        name, revision=None, local_files_only=True, decoding=decoding, runtime=Runtime(batch_size=1)
    )
    texts = ["short", "a much longer ticket text about an order", "mid size text", "x y"]

    together = batched.translate(texts, seed=0)
    alone = single.translate(texts, seed=0)

    assert batched.generate_calls == 1
    assert single.generate_calls == 4
    assert [t.text for t in together] == [t.text for t in alone]
    assert batched.model_id.startswith(name + "@sha256:")


@pytest.mark.parametrize(
    ("lengths", "batch_size", "max_batch_tokens", "expected"),
    [
        ([10, 10, 10, 10], 128, 4096, [(0, 4)]),
        ([10, 10, 10, 10], 3, 4096, [(0, 3), (3, 4)]),
        ([50, 40, 10, 10, 10], 128, 100, [(0, 2), (2, 5)]),
        ([300, 20, 20], 128, 100, [(0, 1), (1, 3)]),
        ([], 128, 4096, []),
    ],
)
def test_token_batches_cap_texts_and_padded_tokens(lengths, batch_size, max_batch_tokens, expected):
    batches = token_batches(lengths, batch_size=batch_size, max_batch_tokens=max_batch_tokens)

    assert batches == expected


def test_token_budget_batches_match_one_at_a_time_without_sampling(marian_template):
    decoding = Decoding(max_new_tokens=6, num_beams=1, do_sample=False, top_p=1, temperature=1)
    name = marian_template.format(src="en", tgt="de")
    budget = load_marian(
        name,
        revision=None,
        local_files_only=True,
        decoding=decoding,
        runtime=Runtime(batch_size=128, max_batch_tokens=24),
    )
    single = load_marian(
        name, revision=None, local_files_only=True, decoding=decoding, runtime=Runtime(batch_size=1)
    )
    texts = ["a much longer ticket text about an order that never came", "x", "y z", "ok", "hi"]

    together = budget.translate(texts, seed=0)
    alone = single.translate(texts, seed=0)

    assert budget.generate_calls == 2  # the long text alone, then the four short ones
    assert [t.text for t in together] == [t.text for t in alone]


def test_a_model_that_cannot_be_loaded_names_it_and_how_to_provide_it(tmp_path):
    config = text_config(tmp_path, local_files_only=True)

    with pytest.raises(ModelUnavailable) as caught:
        rebalance_texts(train_frame(6, {"refund": 3}), columns=COLUMNS, config=config)

    message = str(caught.value)
    assert "'Helsinki-NLP/opus-mt-en-de'" in message
    assert "hf download Helsinki-NLP/opus-mt-en-de" in message
    assert "rebalance.model" in message
    assert "rebalance.fallback: eda" in message


def test_a_missing_local_model_folder_is_a_config_error_even_with_a_fallback(tmp_path):
    model = str(tmp_path / "models/opus-mt-{src}-{tgt}")
    config = text_config(tmp_path, model=model, fallback="eda")

    with pytest.raises(
        ConfigError,
        match=r"rebalance.model: local model folder .*models/opus-mt-en-de does not exist; save",
    ):
        rebalance_texts(train_frame(6, {"refund": 3}), columns=COLUMNS, config=config)


def test_the_fallback_runs_eda_and_says_so(tmp_path):
    config = text_config(tmp_path, local_files_only=True, fallback="eda")

    result = rebalance_texts(train_frame(8, {"refund": 3}), columns=COLUMNS, config=config)

    assert result.sampler == "eda"
    assert result.requested == "back_translation"
    assert set(_synthetic(result.frame)["model"]) == {"eda"}
    assert _synthetic(result.frame).height == 5
    assert "'Helsinki-NLP/opus-mt-en-de' could not be loaded" in result.notes[0]
    assert "offline fallback eda" in result.notes[0]
    assert "offline fallback" in result.report_sections[0]


def test_a_damaged_cache_file_is_named_with_the_fix(marian_template, tmp_path):
    from rebalance.errors import DataError

    train = train_frame(6, {"refund": 4})
    config = text_config(tmp_path, model=marian_template)
    rebalance_texts(train, columns=COLUMNS, config=config)
    (part,) = [p for p in (tmp_path / "cache").rglob("*.jsonl") if "de-en" in _meta(p)]
    part.write_text(part.read_text()[:-20], encoding="utf-8")

    with pytest.raises(DataError, match=r"translation cache file .*\.jsonl is damaged.*delete it"):
        rebalance_texts(train, columns=COLUMNS, config=config)


def _meta(part) -> str:
    return (part.parent / "meta.json").read_text()

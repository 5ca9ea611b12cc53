"""Back-translation in shards of whole token batches: coverage, order and identical outputs."""

import dataclasses
import itertools

import pytest

from rebalance.config import RunnerConfig
from tasks.text.cache import TranslationCache
from tasks.text.shards import ShardedTranslation, plan_shards, translate_shard
from tasks.text.translators import Decoding, Runtime, Translation, load_marian
from tests.marian_models import CORPUS, TINY, build_marian
from tests.text_helpers import text_config

TEXTS = [f"{text} {index}" for index, text in enumerate(CORPUS * 3)]


@pytest.fixture(scope="module")
def varied_template(tmp_path_factory):
    """A tiny model with a wide init: its greedy output depends on its input."""
    root = tmp_path_factory.mktemp("varied")
    build_marian(root / "opus-mt-en-de", size=dataclasses.replace(TINY, init_std=1.0))
    return str(root / "opus-mt-{src}-{tgt}")


def _translator(template: str, *, do_sample: bool, batch_size: int = 4):
    decoding = Decoding(
        max_new_tokens=8, num_beams=1, do_sample=do_sample, top_p=0.9, temperature=1
    )
    return load_marian(
        template.format(src="en", tgt="de"),
        revision=None,
        local_files_only=True,
        decoding=decoding,
        runtime=Runtime(device="cpu", num_threads=1, batch_size=batch_size, max_batch_tokens=64),
    )


def test_shards_are_whole_token_batches_covering_every_text_once_longest_first(marian_template):
    translator = _translator(marian_template, do_sample=False)
    lengths = [len(row) for row in translator.tokenizer(TEXTS)["input_ids"]]

    shards = plan_shards(translator, TEXTS)

    flat = [index for shard in shards for index in shard]
    assert sorted(flat) == list(range(len(TEXTS)))
    assert len(shards) > 3
    assert [lengths[index] for index in flat] == sorted(lengths, reverse=True)
    for shard in shards:
        assert 1 <= len(shard) <= 4
        assert len(shard) * lengths[shard[0]] <= 64 or len(shard) == 1
    # Ties keep the texts' order (a stable sort), so a rerun plans the same shards.
    for left, right in itertools.pairwise(flat):
        assert lengths[left] > lengths[right] or left < right


def test_a_translator_that_cannot_plan_batches_gets_one_shard_and_no_text_none():
    class Fake:
        model_id = "fake@1"

        def translate(self, texts, /, *, seed):
            return [Translation(text.upper(), False) for text in texts]

    assert plan_shards(Fake(), ["b", "a", "c"]) == [[0, 1, 2]]
    assert plan_shards(Fake(), []) == []


@pytest.mark.parametrize("do_sample", [False, True], ids=["greedy", "sampled"])
def test_shards_translated_apart_equal_one_translate_call(varied_template, do_sample):
    translator = _translator(varied_template, do_sample=do_sample)
    whole = translator.translate(TEXTS, seed=7)

    shards = plan_shards(translator, TEXTS)
    pieces: dict[int, Translation] = {}
    for shard in reversed(shards):  # any order of completion
        done = translate_shard(
            [TEXTS[i] for i in shard], spec=translator.spec, seed=7, model_id=translator.model_id
        )
        pieces.update(zip(shard, done, strict=True))

    assert [pieces[index] for index in range(len(TEXTS))] == whole
    assert len({t.text for t in whole}) > 5  # outputs depend on the input
    if do_sample:
        again = translator.translate(TEXTS, seed=8)
        assert [t.text for t in again] != [t.text for t in whole]


def test_a_worker_with_another_model_revision_is_refused(marian_template):
    translator = _translator(marian_template, do_sample=False)

    with pytest.raises(Exception, match="give every worker the same model files"):
        translate_shard(TEXTS[:2], spec=translator.spec, seed=0, model_id="other@sha256:0")


def test_outside_a_flow_run_it_translates_inline_and_all_hits_start_no_runner(
    marian_template, tmp_path
):
    config = text_config(tmp_path, model=marian_template).model_copy(
        update={"runner": RunnerConfig(kind="dask", workers=2)}
    )
    translator = _translator(marian_template, do_sample=False)
    sharded = ShardedTranslation(config)

    def refuse():
        raise AssertionError("the runner was started")

    sharded._started = refuse
    cache = TranslationCache(tmp_path / "cache", run=sharded)
    with sharded:
        first = cache.translate(translator, TEXTS, decoding={}, seed=None, sample=0)
        again = cache.translate(translator, TEXTS, decoding={}, seed=None, sample=0)

    assert first == again == translator.translate(TEXTS, seed=0)
    assert cache.hits == len(TEXTS) and sharded.shards_run == 0

"""Back-translation's model work as shards on the run's task runner (`runner` in the config).

A shard is one token batch of the texts a `TranslationCache` round has to translate: the
flow's process plans the batches with its own copy of the model's tokenizer, each shard runs
through `tasks.core.fanout` and loads the same model in its worker process (once per process)
to translate its batch there. A batch translated alone is the very batch the unsharded path
runs, with the same seed (`_batch_seed` of the seed and the batch's texts), so greedy and
sampled outputs are the same as translating all texts in one process.

With `runner.kind: dask` the shards spread over the Dask workers. With `threads` (the
default) translation stays in the flow's process, one batch after the other: sampled
decoding seeds torch's process-wide RNG, so two `generate` calls in one process at once would
draw from each other's streams, and torch already uses the cores inside each call.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from rebalance.config import TextConfig
from rebalance.errors import RebalanceError
from tasks.core.artifacts import in_flow_run
from tasks.core.fanout import Shards
from tasks.text.translators import MarianSpec, MarianTranslator, Translation, Translator


def plan_shards(translator: Translator, texts: Sequence[str], /) -> list[list[int]]:
    """Indices of `texts` in each shard (whole token batches, in the order they run).

    A translator that cannot plan batches (a fake, another adapter) gets one shard.
    """
    if not texts:
        return []
    if isinstance(translator, MarianTranslator):
        return translator.batches(texts)
    return [list(range(len(texts)))]


@functools.lru_cache(maxsize=8)
def worker_translator(spec: MarianSpec, /) -> MarianTranslator:
    """The model of `spec`, loaded once per process (each Dask worker keeps its own)."""
    return spec.load()


def translate_shard(
    shard: list[str], *, spec: MarianSpec, seed: int, model_id: str
) -> list[Translation]:
    """Translate one shard of texts with the model of `spec`, loaded in this process.

    Raises:
        RebalanceError: the model loaded here is not the revision the flow loaded (the cache
            would file its translations under the wrong model).
    """
    translator = worker_translator(spec)
    if translator.model_id != model_id:
        msg = (
            f"the worker loaded {translator.model_id}, the flow {model_id}: give every worker "
            "the same model files (a shared folder or Hugging Face cache) and pin "
            "rebalance.revision"
        )
        raise RebalanceError(msg)
    return translator.translate(shard, seed=seed)


class ShardedTranslation:
    """`TranslationCache`'s way to translate: shards on the config's Dask runner, started lazily.

    Use it as a context manager around all the rounds: the runner (a local Dask cluster
    takes seconds to start) starts at the first round with texts to translate, never when
    every text is a cache hit, and its workers keep their models across rounds.
    """

    def __init__(self, config: TextConfig, /) -> None:
        self.config = config
        self._shards = Shards(
            config, name="translate-shard", what="translating in shards (one token batch each)"
        )

    @property
    def shards_run(self) -> int:
        """Token batches translated as shards (task runs) so far."""
        return self._shards.shards_run

    def __enter__(self) -> ShardedTranslation:
        self._shards.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._shards.__exit__(*exc_info)

    def __call__(self, translator: Translator, texts: list[str], /, *, seed: int):
        """Translations of `texts` (in order), as `translator.translate` would give them."""
        spreads = self.config.runner.kind == "dask" and in_flow_run()
        marian = isinstance(translator, MarianTranslator) and translator.spec is not None
        if not texts or not marian or not spreads:
            return translator.translate(texts, seed=seed)
        # Widest first: a batch's cost grows with its texts (each decoding step runs every
        # row through the 58k-wide output layer), and Dask starts tasks in the order given,
        # so the big ones start early and the small ones fill the gaps at the end.
        shards = sorted(plan_shards(translator, texts), key=len, reverse=True)
        translated = self._shards.run(
            translate_shard,
            [[texts[index] for index in shard] for shard in shards],
            spec=translator.spec,
            seed=seed,
            model_id=translator.model_id,
        )
        # Results back in the texts' order, whatever order the shards ran in.
        results: list[Translation | None] = [None] * len(texts)
        for shard, translations in zip(shards, translated, strict=True):
            for index, translation in zip(shard, translations, strict=True):
                results[index] = translation
        translator.texts_generated += len(texts)
        translator.generate_calls += len(shards)
        return [translation for translation in results if translation is not None]

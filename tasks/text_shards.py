"""Back-translation's model work as shards on the run's task runner (`runner` in the config).

A shard is one token batch of the texts a `TranslationCache` round has to translate: the
flow's process plans the batches with its own copy of the model's tokenizer, each shard is a
Prefect task that loads the same model in its worker process (once per process) and
translates its batch there. A batch translated alone is the very batch the unsharded path
runs, with the same seed (`_batch_seed` of the seed and the batch's texts), so greedy and
sampled outputs are the same as translating all texts in one process.

With `runner.kind: dask` the shards spread over the Dask workers. With `threads` (the
default) they run one after the other in the flow's process, as before: sampled decoding
seeds torch's process-wide RNG, so two `generate` calls in one process at once would draw
from each other's streams, and torch already uses the cores inside each call.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from rebalance.config import RunnerConfig, TextConfig
from rebalance.errors import RebalanceError
from tasks.steps import retry_unless_user_error, with_policy
from tasks.translators import MarianSpec, MarianTranslator, Translation, Translator


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
    spec: MarianSpec, texts: list[str], /, *, seed: int, model_id: str
) -> list[Translation]:
    """Translate one shard with the model of `spec`, loaded in this process.

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
    return translator.translate(texts, seed=seed)


@task(name="translate-shard", cache_policy=NO_CACHE, retry_condition_fn=retry_unless_user_error)
def translate_shard_task(
    spec: MarianSpec, texts: list[str], seed: int, model_id: str
) -> list[Translation]:
    """Prefect task around `translate_shard`: one token batch."""
    return translate_shard(spec, texts, seed=seed, model_id=model_id)


class ShardedTranslation:
    """`TranslationCache`'s way to translate: shards on the config's runner, started lazily.

    Use it as a context manager around all the rounds: the runner (a local Dask cluster
    takes seconds to start) starts at the first round with texts to translate, never when
    every text is a cache hit, and its workers keep their models across rounds.
    """

    def __init__(self, config: TextConfig, /) -> None:
        self.config = config
        self.shards_run = 0
        self._stack = contextlib.ExitStack()
        self._runner: Any = None

    def __enter__(self) -> ShardedTranslation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()
        self._runner = None

    def __call__(self, translator: Translator, texts: list[str], /, *, seed: int):
        """Translations of `texts` (in order), as `translator.translate` would give them."""
        from prefect.utilities.annotations import unmapped

        spec = getattr(translator, "spec", None)
        if not texts or spec is None or not _in_flow_run() or not _spreads(self.config.runner):
            return translator.translate(texts, seed=seed)
        # Widest first: a batch's cost grows with its texts (each decoding step runs every
        # row through the 58k-wide output layer), and Dask starts tasks in the order given,
        # so the big ones start early and the small ones fill the gaps at the end.
        shards = sorted(plan_shards(translator, texts), key=len, reverse=True)
        results: list[Translation | None] = [None] * len(texts)
        futures = self._started().map(
            with_policy(translate_shard_task, self.config),
            {
                "spec": unmapped(spec),
                "texts": [[texts[index] for index in shard] for shard in shards],
                "seed": unmapped(seed),
                "model_id": unmapped(translator.model_id),
            },
        )
        # Results back in the texts' order, whatever order the shards finish in.
        for shard, future in zip(shards, futures, strict=True):
            for index, translation in zip(shard, future.result(), strict=True):
                results[index] = translation
        self.shards_run += len(shards)
        if isinstance(translator, MarianTranslator):
            translator.texts_generated += len(texts)
            translator.generate_calls += len(shards)
        return [translation for translation in results if translation is not None]

    def _started(self):
        if self._runner is None:
            from prefect import get_run_logger

            from rebalance.runner import describe, started_task_runner

            where = describe(self.config.runner)
            get_run_logger().info("translating in shards (one token batch each) on %s", where)
            self._runner = self._stack.enter_context(started_task_runner(self.config.runner))
        return self._runner


def _spreads(runner: RunnerConfig) -> bool:
    return runner.kind == "dask"


def _in_flow_run() -> bool:
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None

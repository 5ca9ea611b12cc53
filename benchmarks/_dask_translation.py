"""Back-translation shards on Dask: one worker process against two, in one local cluster.

Run by `back_translation_batching.py` after its in-process measurements, on the same
opus-mt-sized model folder (built there; `min_new_tokens` is saved in its
generation_config.json, so every worker does the same decoding work) and the first `--dask-texts`
of its sentences. The flow's process plans the shards as a run does
(`tasks.text.shards.plan_shards`: one token batch each, the product's default `batch_size` and
`max_batch_tokens`), and each shard runs `translate_shard`, the function every
`translate-shard` task runs, on a local cluster of two single-threaded worker processes
(`runner.kind: dask`): all shards on one worker (pinned to it), then on both, alternately by
round. One cluster serves both measurements, so the model is built and each worker loads it
once; that start-up is timed apart (a run pays it once, at its first cache miss). The outputs
of one and two workers must be identical. Prefect's per-task bookkeeping (a few API calls per
shard) is not in the timing.
"""

from __future__ import annotations

import functools
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.6


def measure_dask_shards(
    folder: Path, texts: Sequence[str], *, new_tokens: int, rounds: int
) -> bool:
    """Print the section's figures and ratio.

    True when one and two workers gave the same text and the shards ran on one and on two
    (on one, when there is only one shard).
    """
    # Dask's worker processes import the project too.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    import dask
    from distributed import Client, LocalCluster

    from benchmarks._common import spread
    from rebalance.config import TextRebalanceConfig
    from tasks.core.runners import LOCAL_WORKER_ENVIRONMENT
    from tasks.text.shards import plan_shards, translate_shard, worker_translator
    from tasks.text.translators import Decoding, Runtime, load_marian

    defaults = TextRebalanceConfig.model_fields
    runtime = Runtime(
        device="cpu",
        num_threads=1,
        batch_size=defaults["batch_size"].default,
        max_batch_tokens=defaults["max_batch_tokens"].default,
    )
    decoding = Decoding(
        max_new_tokens=new_tokens, num_beams=1, do_sample=False, top_p=1, temperature=1
    )
    translator = load_marian(
        str(folder), revision=None, local_files_only=True, decoding=decoding, runtime=runtime
    )
    # Widest first, as `ShardedTranslation` maps them.
    shards = sorted(plan_shards(translator, texts), key=len, reverse=True)
    shard_texts = [[texts[index] for index in shard] for shard in shards]
    run = functools.partial(
        translate_shard, spec=translator.spec, seed=0, model_id=translator.model_id
    )

    seconds: dict[int, list[float]] = {1: [], 2: []}
    outputs: dict[int, list[str]] = {}
    ran_on: dict[int, set[str]] = {}
    started = time.perf_counter()
    with (
        dask.config.set(LOCAL_WORKER_ENVIRONMENT),  # as `runner.kind: dask` starts its workers
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        # Each worker loads the model once, as a run's first shards do.
        client.run(lambda spec=translator.spec: bool(worker_translator(spec)))
        startup = time.perf_counter() - started
        first_worker = sorted(client.scheduler_info()["workers"])[:1]
        placement = {
            1: {"workers": first_worker, "allow_other_workers": False},
            2: {},
        }
        for round_index in range(rounds):
            for workers in (1, 2) if round_index % 2 == 0 else (2, 1):
                begun = time.perf_counter()
                futures = client.map(run, shard_texts, pure=False, **placement[workers])
                done = client.gather(futures)
                seconds[workers].append(time.perf_counter() - begun)
                # Results stay on the worker that made them: check where they ran.
                ran_on[workers] = {
                    address for held in client.who_has(futures).values() for address in held
                }
                by_index = {
                    index: translation.text
                    for shard, translated in zip(shards, done, strict=True)
                    for index, translation in zip(shard, translated, strict=True)
                }
                outputs[workers] = [by_index[index] for index in range(len(texts))]
                print(
                    f"Dask round {round_index + 1}: {workers} worker(s) "
                    f"{seconds[workers][-1]:.1f} s",
                    flush=True,
                )

    rates = {workers: [len(texts) / value for value in seconds[workers]] for workers in (1, 2)}
    median = {workers: statistics.median(rates[workers]) for workers in (1, 2)}
    sizes = [len(shard) for shard in shards]
    print(
        f"Dask shards: {len(texts)} of the sentences, 1 torch thread per worker, "
        f"{len(shards)} shards (token batches) of {min(sizes)}-{max(sizes)} texts; one local "
        f"cluster of 2 worker processes, started with the model loaded in {startup:.1f} s"
    )
    print(f"Dask, 1 worker (shards pinned to it): {spread(rates[1], unit='sentences/s')}")
    print(f"Dask, 2 workers:                      {spread(rates[2], unit='sentences/s')}")
    same = outputs[1] == outputs[2]
    placed = len(ran_on[1]) == 1 and len(ran_on[2]) == min(2, len(shards))
    print(
        f"outputs identical on 1 and 2 workers: {same}; shards ran on {len(ran_on[1])} "
        f"and {len(ran_on[2])} workers"
    )
    print(f"RATIO Dask 2 workers / 1 worker: {median[2] / median[1]:.2f}x (target >= {TARGET})")
    return same and placed


if __name__ == "__main__":
    sys.exit("run benchmarks/back_translation_batching.py: it measures the Dask shards too")

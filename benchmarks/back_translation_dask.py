"""Back-translation shards on Dask: a local cluster of two worker processes against one.

The same opus-mt-sized MarianMT model as `back_translation_batching.py` (random weights, 74M
parameters, built here; nothing is downloaded) translates the same seeded mixed-length
sentences, greedy, 12 new tokens each (`min_new_tokens` saved in the model's
generation_config.json, so every worker does the same decoding work). The flow's process plans
the shards as a run does (`tasks.text_shards.plan_shards`: one token batch each, the product's
default `batch_size` and `max_batch_tokens`), and each shard runs `translate_shard`, the
function every `translate-shard` task runs, on clusters of one and two single-threaded worker
processes (`runner.kind: dask`), alternately. Cluster start-up with each worker's model load
is timed apart: a run pays it once, at its first cache miss. The outputs of both clusters must
be identical. Prefect's per-task bookkeeping (a few API calls per shard) is not in the timing.

Budget: about 2 to 3 minutes on the shared 2-core build machine with the defaults (384
sentences, one round: the model build and the clusters' start take about a minute of it).

    PYTHONPATH=. .venv/bin/python benchmarks/back_translation_dask.py [--texts 384 --rounds 1]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Dask's worker processes import the project too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from benchmarks._common import machine, spread  # noqa: E402
from benchmarks.back_translation_batching import sentences  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=384)
    parser.add_argument("--new-tokens", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import dask
    from distributed import Client, LocalCluster
    from transformers import GenerationConfig

    from rebalance.config import TextRebalanceConfig
    from rebalance.runner import LOCAL_WORKER_ENVIRONMENT
    from tasks.text_shards import plan_shards, translate_shard, worker_translator
    from tasks.translators import Decoding, Runtime, load_marian
    from tests.marian_models import OPUS_MT, build_marian

    dask.config.set(LOCAL_WORKER_ENVIRONMENT)  # as `runner.kind: dask` starts its workers
    texts = sentences(args.texts, seed=args.seed)
    defaults = TextRebalanceConfig.model_fields
    runtime = Runtime(
        device="cpu",
        num_threads=1,
        batch_size=defaults["batch_size"].default,
        max_batch_tokens=defaults["max_batch_tokens"].default,
    )
    decoding = Decoding(
        max_new_tokens=args.new_tokens, num_beams=1, do_sample=False, top_p=1, temperature=1
    )
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        corpus = sentences(5000, seed=args.seed + 1)
        folder = build_marian(Path(scratch) / "opus-mt-en-de", corpus=corpus, size=OPUS_MT)
        generation = GenerationConfig.from_pretrained(folder)
        generation.min_new_tokens = args.new_tokens  # EOS masked: every text, every way
        generation.save_pretrained(folder)
        translator = load_marian(
            str(folder), revision=None, local_files_only=True, decoding=decoding, runtime=runtime
        )
        built = time.perf_counter() - started
        # Widest first, as `ShardedTranslation` maps them.
        shards = sorted(plan_shards(translator, texts), key=len, reverse=True)
        shard_texts = [[texts[index] for index in shard] for shard in shards]
        run = functools.partial(
            translate_shard, translator.spec, seed=0, model_id=translator.model_id
        )

        clusters, clients, startup = {}, {}, {}
        for workers in (1, 2):
            started = time.perf_counter()
            clusters[workers] = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            clients[workers] = Client(clusters[workers])
            # Each worker loads the model once, as a run's first shards do.
            clients[workers].run(lambda spec=translator.spec: bool(worker_translator(spec)))
            startup[workers] = time.perf_counter() - started

        seconds: dict[int, list[float]] = {1: [], 2: []}
        outputs: dict[int, list[str]] = {}
        for round_index in range(args.rounds):
            for workers in (1, 2) if round_index % 2 == 0 else (2, 1):
                client = clients[workers]
                started = time.perf_counter()
                done = client.gather(client.map(run, shard_texts, pure=False))
                seconds[workers].append(time.perf_counter() - started)
                texts_out = {
                    i: t.text
                    for s, d in zip(shards, done, strict=True)
                    for i, t in zip(s, d, strict=True)
                }
                outputs[workers] = [texts_out[i] for i in range(len(texts))]
                print(
                    f"round {round_index + 1}: Dask {workers} proc {seconds[workers][-1]:.1f} s",
                    flush=True,
                )
        for workers in (1, 2):
            clients[workers].close()
            clusters[workers].close()

    rates = {workers: [len(texts) / value for value in seconds[workers]] for workers in (1, 2)}
    median = {workers: statistics.median(rates[workers]) for workers in (1, 2)}
    sizes = [len(shard) for shard in shards]
    print(machine())
    print(
        f"model: opus-mt-sized MarianMT, built and loaded in {built:.1f} s; {len(texts)} "
        f"sentences, {args.new_tokens} new tokens each, greedy, 1 torch thread per worker; "
        f"{len(shards)} shards (token batches, batch_size {runtime.batch_size}, "
        f"max_batch_tokens {runtime.max_batch_tokens}) of {min(sizes)}-{max(sizes)} texts"
    )
    print(f"Dask 1 proc:  {spread(rates[1], unit='sentences/s')}")
    print(f"Dask 2 procs: {spread(rates[2], unit='sentences/s')}")
    print(
        f"cluster start with the model loaded: 1 proc {startup[1]:.1f} s, "
        f"2 procs {startup[2]:.1f} s"
    )
    same = outputs[1] == outputs[2]
    print(f"outputs identical on 1 and 2 procs: {same}")
    print(f"RATIO Dask 2 procs / 1 proc: {median[2] / median[1]:.2f}x (target >= 1.6)")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()

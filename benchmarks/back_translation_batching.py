"""MarianMT translation at opus-mt size: the product's batching vs how it is usually scripted.

A random-weight MarianMT model of Helsinki-NLP/opus-mt-en-de's shape (d_model 512, 6 + 6
layers, 8 heads, ffn 2048, 58,101-entry vocabulary, 74M parameters; built here, nothing is
downloaded; see `tests.marian_models.OPUS_MT`) translates 512 seeded mixed-length sentences
(3 to 60 pseudo-words, about 6 to 90 tokens) three ways, greedy, in one process:

- one at a time: `generate` per sentence, the usual back-translation script;
- fixed batches of 32: in input order, padded to the longest of each batch;
- ours: `tasks.text.translators.load_marian(...).translate`, the product's real path with its
  default `batch_size` (what `TranslationCache.translate` calls with a round's new texts).

Every sentence gets exactly `--new-tokens` tokens (`min_new_tokens` == `max_new_tokens`, set
on the model's generation config, so all three ways do the same decoding work): a random
model's output length is arbitrary, and early stops would make the ratios meaningless.
Greedy outputs must be identical; those that differ are counted and printed.

Then the same model translates the first `--dask-texts` (384) sentences as shards on a local
Dask cluster, one worker process against two (`_dask_translation.py`; `--dask-texts 0` skips
it). Both parts share one model build, and the Dask part one cluster.

Budget: about 3.5 minutes on the shared 2-core build machine with the defaults (12 new
tokens, 2 rounds, 1 torch thread), and 1.5 more for the Dask part. Ours translates all 512
sentences each round, as the product gets a round's texts at once (its length-sorted batches
gain from a larger pool). The baselines' cost per sentence does not depend on how many they
get, so they run on subsets, split between the rounds: one at a time (~0.6 s per sentence
there) on `--single` (32) of the sentences, every 16th (the same length mix), and fixed
batches on the first `--fixed-texts` (384), in input order. Rounds alternate the order of the
ways; medians and ranges are printed. One thread because the machine is shared: torch's two
OpenMP threads stall whenever another process takes a core (3-5x slower and erratic);
`--num-threads 0` uses torch's default.

    PYTHONPATH=. .venv/bin/python benchmarks/back_translation_batching.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, spread
from benchmarks._dask_translation import measure_dask_shards

SYLLABLES = ["ka", "to", "ri", "men", "sa", "lo", "ver", "in", "de", "ar", "ul", "pe", "no"]
SYLLABLES += ["sch", "ei", "au", "ter", "ung", "bar", "lich", "ma", "ge"]


def sentences(count: int, /, *, seed: int) -> list[str]:
    """Seeded pseudo-sentences: half short (3-15 words), half long (16-60 words)."""
    rng = random.Random(seed)
    lexicon = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(20_000)})
    lengths = [rng.randint(3, 15) if index % 2 else rng.randint(16, 60) for index in range(count)]
    rng.shuffle(lengths)
    return [" ".join(rng.choices(lexicon, k=length)).capitalize() + "." for length in lengths]


def one_at_a_time(model, tokenizer, texts: Sequence[str], kwargs: dict) -> list[str]:
    """The usual script: tokenize, generate and decode each sentence alone."""
    outputs = []
    for text in texts:
        encoded = tokenizer([text], return_tensors="pt", truncation=True)
        generated = model.generate(**encoded, **kwargs)
        outputs.append(tokenizer.decode(generated[0], skip_special_tokens=True))
    return outputs


def fixed_batches(model, tokenizer, texts: Sequence[str], kwargs: dict, size: int) -> list[str]:
    """Batches of `size` in input order, each padded to its longest sentence."""
    outputs = []
    for start in range(0, len(texts), size):
        batch = list(texts[start : start + size])
        encoded = tokenizer(batch, return_tensors="pt", padding=True, truncation=True)
        generated = model.generate(**encoded, **kwargs)
        outputs += tokenizer.batch_decode(generated, skip_special_tokens=True)
    return outputs


def timed(run: Callable[[], list[str]]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    outputs = run()
    return time.perf_counter() - started, outputs


def differences(name: str, ours: dict[int, str], other: dict[int, str]) -> int:
    """Count (and print the first few) sentences whose outputs differ from ours."""
    differ = [index for index in sorted(other) if other[index] != ours[index]]
    for index in differ[:3]:
        print(f"  {name} differs on sentence {index}:")
        print(f"    ours:   {ours[index]!r}")
        print(f"    {name}: {other[index]!r}")
    return len(differ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="MarianMT folder or hub name (default: built here)")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--single", type=int, default=32, help="sentences run one at a time")
    parser.add_argument(
        "--fixed-texts", type=int, default=384, help="sentences run in fixed batches"
    )
    parser.add_argument("--new-tokens", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fixed-batch", type=int, default=32)
    parser.add_argument("--batch-size", type=int, help="ours (default: the product's)")
    parser.add_argument("--max-batch-tokens", type=int, help="ours (default: the product's)")
    parser.add_argument(
        "--num-threads", type=int, default=1, help="torch threads (0: torch's default)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dask-texts", type=int, default=384, help="sentences sharded on Dask (0: skip)"
    )
    parser.add_argument("--dask-rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if not measure(args, Path(scratch)):
            sys.exit(1)


def measure(args: argparse.Namespace, scratch: Path) -> bool:
    """Print every figure; False when the Dask part's check fails (outputs, workers used)."""

    import torch
    from transformers import GenerationConfig

    from rebalance.config import TextRebalanceConfig
    from tasks.text.translators import Decoding, Runtime, load_marian
    from tests.marian_models import OPUS_MT, build_marian

    texts = sentences(args.texts, seed=args.seed)
    defaults = TextRebalanceConfig.model_fields
    runtime = Runtime(
        num_threads=args.num_threads or None,
        batch_size=args.batch_size or defaults["batch_size"].default,
        max_batch_tokens=args.max_batch_tokens or defaults["max_batch_tokens"].default,
    )
    decoding = Decoding(
        max_new_tokens=args.new_tokens, num_beams=1, do_sample=False, top_p=1, temperature=1
    )
    name = args.model
    started = time.perf_counter()
    if name is None:
        corpus = sentences(5000, seed=args.seed + 1)
        folder = build_marian(scratch / "opus-mt-en-de", corpus=corpus, size=OPUS_MT)
        # Saved for the Dask workers, which load the folder (set on the model below too).
        generation = GenerationConfig.from_pretrained(folder)
        generation.min_new_tokens = args.new_tokens
        generation.save_pretrained(folder)
        name = str(folder)
    translator = load_marian(
        name, revision=None, local_files_only=True, decoding=decoding, runtime=runtime
    )
    built = time.perf_counter() - started
    model, tokenizer = translator.model, translator.tokenizer
    # Fixed output length for every way: EOS is masked until max_new_tokens.
    model.generation_config.min_new_tokens = args.new_tokens
    kwargs = {"max_new_tokens": args.new_tokens, "num_beams": 1, "do_sample": False}
    parameters = sum(p.numel() for p in model.parameters())
    tokens = [len(row) for row in tokenizer(texts)["input_ids"]]
    print(machine())
    print(
        f"model {name}: {parameters / 1e6:.1f}M parameters, vocab {model.config.vocab_size}, "
        f"built and loaded in {built:.1f} s; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {translator.device}"
    )
    print(
        f"{len(texts)} sentences, {min(tokens)}-{max(tokens)} tokens "
        f"(median {statistics.median(tokens):.0f}), {args.new_tokens} new tokens each, greedy; "
        f"ours: length-sorted, batch_size {runtime.batch_size}, "
        f"max_batch_tokens {runtime.max_batch_tokens}"
    )

    step = max(len(texts) // args.single, 1)
    single_indices = list(range(0, len(texts), step))[: args.single]
    # Each round: ours on every sentence, the baselines on their share of their subsets.
    fixed_count = min(args.fixed_texts, len(texts))
    shares = {
        "single": [single_indices[r :: args.rounds] for r in range(args.rounds)],
        "fixed": [
            list(range(r * fixed_count // args.rounds, (r + 1) * fixed_count // args.rounds))
            for r in range(args.rounds)
        ],
    }
    translator.translate(texts[:4], seed=0)  # warm-up: first calls allocate
    per_sentence: dict[str, list[float]] = {"single": [], "fixed": [], "ours": []}
    outputs: dict[str, dict[int, str]] = {"single": {}, "fixed": {}, "ours": {}}

    def run(way: str, indices: list[int]) -> list[str]:
        chosen = [texts[i] for i in indices]
        if way == "single":
            return one_at_a_time(model, tokenizer, chosen, kwargs)
        if way == "fixed":
            return fixed_batches(model, tokenizer, chosen, kwargs, args.fixed_batch)
        return [t.text for t in translator.translate(chosen, seed=0)]

    for round_index in range(args.rounds):
        order = ["ours", "fixed", "single"]
        if round_index % 2:
            order.reverse()
        report = []
        for way in order:
            indices = shares[way][round_index] if way in shares else list(range(len(texts)))
            spent, out = timed(lambda w=way, i=indices: run(w, i))
            per_sentence[way].append(spent / len(indices))
            outputs[way].update(zip(indices, out, strict=True))
            report.append(f"{way} {len(indices)} in {spent:.2f} s")
        print(f"round {round_index + 1}: " + ", ".join(report), flush=True)

    rates = {way: [1 / s for s in seconds] for way, seconds in per_sentence.items()}
    shown = {way: spread(values, unit="sentences/s") for way, values in rates.items()}
    print(f"one at a time ({len(single_indices)} sentences): {shown['single']}")
    print(f"fixed batches of {args.fixed_batch}:  {shown['fixed']}")
    print(f"ours:                 {shown['ours']}")
    ours = statistics.median(rates["ours"])
    print(
        f"speed-up: {ours / statistics.median(rates['single']):.1f}x one at a time "
        f"(target 5x), {ours / statistics.median(rates['fixed']):.2f}x fixed batches of "
        f"{args.fixed_batch} (target 1.3x); per-round ratios vs fixed: "
        + ", ".join(f"{o / f:.2f}" for o, f in zip(rates["ours"], rates["fixed"], strict=True))
    )
    counts = {way: differences(way, outputs["ours"], outputs[way]) for way in shares}
    print(
        f"outputs differing from ours: {counts['fixed']} of {len(outputs['fixed'])} "
        f"(fixed batches), {counts['single']} of {len(outputs['single'])} (one at a time); "
        f"{len(set(outputs['ours'].values()))} distinct outputs among {len(texts)}"
    )
    if not args.dask_texts:
        return True
    if args.model is not None:
        print("Dask shards: skipped (they need the model built here, min_new_tokens saved)")
        return True
    return measure_dask_shards(
        Path(name),
        texts[: args.dask_texts],
        new_tokens=args.new_tokens,
        rounds=args.dask_rounds,
    )


if __name__ == "__main__":
    main()

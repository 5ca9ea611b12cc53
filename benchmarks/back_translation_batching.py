"""Sentences per second of MarianMT translation: length-sorted batches vs one text at a time.

Runs the product's adapter (`tasks.translators.load_marian`) on a MarianMT model folder: by
default a tiny random-weight model built on the spot (no download), or `--model PATH_OR_NAME`
for a real one. Greedy decoding, so both ways produce the same texts (checked).

    PYTHONPATH=. .venv/bin/python benchmarks/back_translation_batching.py [--texts 64]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="MarianMT folder or hub name (default: tiny, built here)")
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--num-threads", type=int, default=None)
    args = parser.parse_args()

    from tasks.translators import Decoding, Runtime, load_marian

    with tempfile.TemporaryDirectory() as scratch:
        name = args.model
        if name is None:
            from tests.marian_models import build_marian

            name = str(build_marian(Path(scratch) / "opus-mt-en-de"))
        decoding = Decoding(
            max_new_tokens=args.max_new_tokens, num_beams=1, do_sample=False, top_p=1, temperature=1
        )
        texts = [
            f"ticket {index}: " + " ".join(["my order has not arrived yet"] * (1 + index % 5))
            for index in range(args.texts)
        ]
        results = {}
        for label, batch_size in (("one at a time", 1), ("batched", args.batch_size)):
            translator = load_marian(
                name,
                revision=None,
                local_files_only=True,
                decoding=decoding,
                runtime=Runtime(num_threads=args.num_threads, batch_size=batch_size),
            )
            translator.translate(texts[:2], seed=0)  # warm-up
            started = time.perf_counter()
            outputs = translator.translate(texts, seed=0)
            seconds = time.perf_counter() - started
            results[label] = (seconds, [output.text for output in outputs])
            print(f"{label:>14}: {len(texts) / seconds:8.1f} sentences/s ({seconds:.2f} s)")
        import torch

        base, batched = results["one at a time"], results["batched"]
        print(f"speed-up: {base[0] / batched[0]:.1f}x with batch_size {args.batch_size}")
        print(f"same outputs: {base[1] == batched[1]}")
        print(
            f"model {name}; {len(texts)} texts; max_new_tokens {args.max_new_tokens}; "
            f"device {translator.device}; torch threads {torch.get_num_threads()}; "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()

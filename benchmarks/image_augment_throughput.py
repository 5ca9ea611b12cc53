"""Images per second of the augmentation shards: one thread (baseline) against a thread pool.

The flow runs shards on Prefect's thread pool task runner; this measures the same
`augment_shard` calls without Prefect, on the digits demo tree (32×32, mixed pixel kinds), so
the figure is the work itself. Run:

    PYTHONPATH=. .venv/bin/python benchmarks/image_augment_throughput.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo.make_digits import make_digits
from tasks.image_augment import build_pipeline, image_seed, pipeline_dict
from tasks.image_modality import augment_shard

IMAGES = 3000
SHARD_SIZE = 256


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "digits"
        make_digits(root)
        sources = sorted(path for path in root.rglob("*") if path.suffix in (".png", ".jpg"))
        sources = [path for path in sources if path.stat().st_size > 100]
        pipeline = pipeline_dict(build_pipeline(None, seed=0))

        def jobs(out: Path) -> list[dict]:
            out.mkdir()
            return [
                {
                    "source": str(sources[index % len(sources)]),
                    "source_path": sources[index % len(sources)].name,
                    "folder": str(out),
                    "stem": f"img{index:05d}",
                    "extension": sources[index % len(sources)].suffix,
                    "seed": image_seed(0, str(index), 0),
                }
                for index in range(IMAGES)
            ]

        baseline_jobs = jobs(Path(scratch) / "one")
        started = time.perf_counter()
        augment_shard(baseline_jobs, pipeline)
        one = time.perf_counter() - started

        pool_jobs = jobs(Path(scratch) / "pool")
        shards = [pool_jobs[start : start + SHARD_SIZE] for start in range(0, IMAGES, SHARD_SIZE)]
        workers = os.cpu_count() or 1
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda shard: augment_shard(shard, pipeline), shards))
        many = time.perf_counter() - started

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{IMAGES} images of 32×32 (gray/RGB/RGBA/16-bit), default pipeline")
    print(f"one thread:            {IMAGES / one:7.1f} images/s ({one:.2f} s)")
    print(
        f"{workers} threads, shards of {SHARD_SIZE}: {IMAGES / many:7.1f} images/s ({many:.2f} s); "
        f"ratio {one / many:.2f}×"
    )


if __name__ == "__main__":
    main()

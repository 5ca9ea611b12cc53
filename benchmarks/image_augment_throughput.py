"""Image augmentation throughput: our shards against a bare cv2 loop, then one worker vs two.

500 photo-like JPEGs (256-512 px a side, smooth gradients, shapes and noise, made with a fixed
seed) through the default pipeline (`build_pipeline(None, seed=0)`):

1. one worker: a bare loop of `cv2.imread` → the pipeline → `cv2.imwrite` (baseline) against
   `augment_shard`, the function every shard task runs (per-image seeds, Pillow-exact decoding
   and encoding, applied params, sha256, write-and-rename), alternately, several rounds;
2. two workers: the shards mapped on two threads in one process (`runner.kind: threads`), and
   on Dask clusters of one and two worker processes (`runner.kind: dask`), alternately.
   Cluster start-up is timed apart: a run with a temporary local cluster pays it once.
3. why two workers fall short of 2x on two cores: one worker with OpenCV limited to one
   thread shows how much of the second core a single worker already takes.

    PYTHONPATH=. .venv/bin/python benchmarks/image_augment_throughput.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Dask's worker processes import the project too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._common import machine, spread  # noqa: E402
from tasks.images.augment import augment_shard, image_seed  # noqa: E402
from tasks.images.pipeline import build_pipeline, pipeline_dict  # noqa: E402

IMAGES = 500
SHARD_SIZE = 32


def make_photos(root: Path, count: int, *, seed: int = 0) -> list[Path]:
    """Photo-like JPEGs (quality 90): gradients, filled shapes, blur and sensor-like noise."""
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        height, width = (int(side) for side in rng.integers(256, 513, 2))
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        image = np.empty((height, width, 3), np.float32)
        for channel in range(3):
            a, b, phase = rng.uniform(-1, 1, 3)
            image[..., channel] = 128 + 100 * np.sin(
                3 * a * x / width + 3 * b * y / height + 6 * phase
            )
        image = image.astype(np.uint8)
        for _ in range(int(rng.integers(3, 9))):
            color = tuple(int(v) for v in rng.integers(0, 256, 3))
            cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
            if rng.random() < 0.5:
                radius = int(rng.integers(10, min(height, width) // 3))
                cv2.circle(image, (cx, cy), radius, color, -1, cv2.LINE_AA)
            else:
                corner = (
                    cx + int(rng.integers(10, width // 2)),
                    cy + int(rng.integers(10, height // 2)),
                )
                cv2.rectangle(image, (cx, cy), corner, color, -1)
        image = cv2.GaussianBlur(image, (0, 0), 1.5)
        image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
        path = root / f"class{index % 5}" / f"photo{index:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def bare_loop(sources: list[Path], out: Path) -> None:
    compose = build_pipeline(None, seed=0)
    for index, source in enumerate(sources):
        image = cv2.imread(str(source))
        cv2.imwrite(str(out / f"img{index:05d}.jpg"), compose(image=image)["image"])


def shards_of(sources: list[Path], out: Path) -> list[list[dict]]:
    jobs = [
        {
            "source": str(source),
            "source_path": source.name,
            "folder": str(out),
            "stem": f"img{index:05d}",
            "extension": ".jpg",
            "seed": image_seed(0, source.name, 0),
        }
        for index, source in enumerate(sources)
    ]
    return [jobs[start : start + SHARD_SIZE] for start in range(0, len(jobs), SHARD_SIZE)]


def timed(run: Callable[[Path], None], scratch: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    run(out)
    elapsed = time.perf_counter() - started
    shutil.rmtree(out)
    return elapsed


def rate(seconds: list[float]) -> str:
    return spread([IMAGES / value for value in seconds], unit="images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import dask
    from distributed import Client, LocalCluster

    from tasks.core.runners import LOCAL_WORKER_ENVIRONMENT

    dask.config.set(LOCAL_WORKER_ENVIRONMENT)  # as `runner.kind: dask` starts its workers

    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        sources = make_photos(scratch / "photos", IMAGES)
        sizes = sorted(path.stat().st_size for path in sources)
        pipeline = pipeline_dict(build_pipeline(None, seed=0))

        def ours(out: Path) -> None:
            for shard in shards_of(sources, out):
                augment_shard(shard, pipeline)

        def ours_one_opencv_thread(out: Path) -> None:
            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                ours(out)
            finally:
                cv2.setNumThreads(threads)

        def two_threads(out: Path) -> None:
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(
                    pool.map(lambda shard: augment_shard(shard, pipeline), shards_of(sources, out))
                )

        clusters, clients, startup = {}, {}, {}
        for workers in (1, 2):
            started = time.perf_counter()
            clusters[workers] = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            clients[workers] = Client(clusters[workers])
            # Import and build the pipeline once in each worker, as a run's first shards do.
            warm = shards_of(sources[: 2 * workers], scratch)[:1] * workers
            clients[workers].gather(
                clients[workers].map(augment_shard, warm, pipeline=pipeline, pure=False)
            )
            startup[workers] = time.perf_counter() - started

        def on_dask(workers: int) -> Callable[[Path], None]:
            def run(out: Path) -> None:
                client = clients[workers]
                futures = client.map(
                    augment_shard, shards_of(sources, out), pipeline=pipeline, pure=False
                )
                client.gather(futures)

            return run

        times: dict[str, list[float]] = {
            name: [] for name in ("bare", "ours", "threads2", "dask1", "dask2", "ours_cv1")
        }
        runs = {
            "bare": lambda out: bare_loop(sources, out),
            "ours": ours,
            "threads2": two_threads,
            "dask1": on_dask(1),
            "dask2": on_dask(2),
            "ours_cv1": ours_one_opencv_thread,
        }
        for _ in range(args.rounds):
            for name, run in runs.items():
                times[name].append(timed(run, scratch))
        for workers in (1, 2):
            clients[workers].close()
            clusters[workers].close()

    median = {
        name: statistics.median(IMAGES / value for value in values)
        for name, values in times.items()
    }
    print(machine())
    print(
        f"{IMAGES} JPEGs, 256-512 px a side, {statistics.median(sizes) / 1024:.0f} KiB median "
        f"({sizes[0] / 1024:.0f}-{sizes[-1] / 1024:.0f} KiB), default pipeline, shards of "
        f"{SHARD_SIZE}, OpenCV threads {cv2.getNumThreads()}"
    )
    print(f"one worker   bare cv2 loop (baseline):       {rate(times['bare'])}")
    print(f"one worker   ours, augment_shard:             {rate(times['ours'])}")
    print(f"two threads  ours, runner.kind threads:       {rate(times['threads2'])}")
    print(f"Dask 1 proc  ours, runner.kind dask:          {rate(times['dask1'])}")
    print(f"Dask 2 procs ours, runner.kind dask:          {rate(times['dask2'])}")
    print(f"one worker   ours, OpenCV 1 thread:           {rate(times['ours_cv1'])}")
    print(f"cluster start, first shard: 1 proc {startup[1]:.1f} s, 2 procs {startup[2]:.1f} s")
    for what, top, bottom, target in (
        ("ours / bare loop, one worker", "ours", "bare", 0.9),
        ("two threads / ours, one worker", "threads2", "ours", 1.7),
        ("Dask 2 procs / Dask 1 proc", "dask2", "dask1", 1.6),
        ("Dask 2 procs / ours, one worker", "dask2", "ours", 1.7),
    ):
        print(f"{what + ':':34s} {median[top] / median[bottom]:.2f}x (target >= {target})")
    print(
        f"OpenCV's own threads already give one worker {median['ours'] / median['ours_cv1']:.2f}x"
        " over one thread: a second worker on two cores has that much less to add"
    )


if __name__ == "__main__":
    main()

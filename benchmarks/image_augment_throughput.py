"""Image augmentation throughput: ours against the bare cv2 loop, on one worker and on two.

500 photo-like JPEGs (256-512 px a side, smooth gradients, shapes and noise, made with a fixed
seed) through the default pipeline (`build_pipeline(None, seed=0)`), every run alternately,
several rounds:

1. one worker: the bare loop `cv2.imread` → the pipeline → `cv2.imwrite` (baseline) against
   `augment_shard` inline, the function every shard task runs (per-image seeds, Pillow-exact
   decoding and encoding, applied params, sha256, write-and-rename);
2. two workers, like with like: the bare loop split over two processes (a spawned
   `ProcessPoolExecutor(2)`, each process half the files) against ours on a local Dask cluster
   of two single-threaded worker processes, started as `runner.kind: dask` with
   `runner.workers: 2` starts it (shards of 32 mapped with `client.map`; Prefect's task-run
   bookkeeping is not included). Both pools are started and warmed (imports, the pipeline
   built, two images made in each process) before any timing: the timed window is the work
   only, from handing out the files to the last one written, for both;
3. the same cluster with OpenCV limited to one thread per worker process (two processes with
   OpenCV's default 2 threads each oversubscribe two cores), and ours on two threads in one
   process (`runner.kind: threads`, the default), for reference.

    PYTHONPATH=. .venv/bin/python benchmarks/image_augment_throughput.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
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


def bare_loop(sources: list[Path], out: Path, names: list[str] | None = None) -> None:
    """The baseline: what a user writes without per-image seeds, params, hashes or renames."""
    compose = build_pipeline(None, seed=0)
    for index, source in enumerate(sources):
        name = names[index] if names else f"img{index:05d}"
        image = cv2.imread(str(source))
        cv2.imwrite(str(out / f"{name}.jpg"), compose(image=image)["image"])


def bare_half(sources: list[str], out: str, names: list[str]) -> None:
    """One process's half of the two-process bare loop (module level, so it pickles)."""
    bare_loop([Path(source) for source in sources], Path(out), names)


def warm_worker(sources: list[str], folder: str, pipeline: dict) -> None:
    """Imports, a built pipeline and two images made, in a worker of either pool."""
    scratch = Path(tempfile.mkdtemp(dir=folder))
    bare_loop([Path(source) for source in sources], scratch)
    augment_shard(shards_of([Path(source) for source in sources], scratch)[0], pipeline)


def opencv_threads(count: int) -> int:
    """Set OpenCV's thread count in a worker; returns the count now in force."""
    cv2.setNumThreads(count)
    return cv2.getNumThreads()


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


def timed(run: Callable[[Path], object], scratch: Path) -> tuple[float, object]:
    out = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    result = run(out)
    elapsed = time.perf_counter() - started
    shutil.rmtree(out)
    return elapsed, result


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
        warm = ([str(path) for path in sources[:2]], str(scratch), pipeline)

        # Both pools start and warm up outside the timed window (see the docstring).
        started = time.perf_counter()
        processes = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
        list(processes.map(warm_worker, *([item] * 2 for item in warm)))
        pool_start = time.perf_counter() - started
        started = time.perf_counter()
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        client.run(warm_worker, *warm)
        cluster_start = time.perf_counter() - started
        default_threads = set(client.run(cv2.getNumThreads).values())

        def ours(out: Path) -> list[str]:
            return [
                done["sha256"]
                for shard in shards_of(sources, out)
                for done in augment_shard(shard, pipeline)
            ]

        def bare_two_processes(out: Path) -> None:
            names = [f"img{index:05d}" for index in range(IMAGES)]
            halves = [
                ([str(path) for path in sources[part::2]], str(out), names[part::2])
                for part in (0, 1)
            ]
            list(processes.map(bare_half, *zip(*halves, strict=True)))

        def on_dask(threads: int) -> Callable[[Path], list[str]]:
            def run(out: Path) -> list[str]:
                futures = client.map(
                    augment_shard, shards_of(sources, out), pipeline=pipeline, pure=False
                )
                return [done["sha256"] for shard in client.gather(futures) for done in shard]

            def with_threads(out: Path) -> list[str]:
                in_force = set(client.run(opencv_threads, threads).values())
                if in_force != {threads}:
                    msg = f"OpenCV threads in the workers: {in_force}, not {threads}"
                    raise RuntimeError(msg)
                try:
                    return run(out)
                finally:
                    client.run(opencv_threads, max(default_threads))

            return with_threads

        def two_threads(out: Path) -> list[str]:
            with ThreadPoolExecutor(max_workers=2) as pool:
                shards = pool.map(
                    lambda shard: augment_shard(shard, pipeline), shards_of(sources, out)
                )
                return [done["sha256"] for shard in shards for done in shard]

        runs = {
            "bare": lambda out: bare_loop(sources, out),
            "ours": ours,
            "bare2": bare_two_processes,
            "dask2": on_dask(max(default_threads)),
            "dask2_cv1": on_dask(1),
            "threads2": two_threads,
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        hashes: dict[str, object] = {}
        for round_ in range(args.rounds):
            # Every other round runs backwards, so neither side of a pair always goes first.
            order = list(runs.items()) if round_ % 2 == 0 else list(runs.items())[::-1]
            for name, run in order:
                elapsed, hashes[name] = timed(run, scratch)
                times[name].append(elapsed)
        client.close()
        cluster.close()
        processes.shutdown()

    # Ours writes the same bytes however its shards run.
    same = all(hashes[name] == hashes["ours"] for name in ("dask2", "dask2_cv1", "threads2"))
    median = {
        name: statistics.median(IMAGES / value for value in values)
        for name, values in times.items()
    }
    print(machine())
    print(
        f"{IMAGES} JPEGs, 256-512 px a side, {statistics.median(sizes) / 1024:.0f} KiB median "
        f"({sizes[0] / 1024:.0f}-{sizes[-1] / 1024:.0f} KiB), default pipeline, shards of "
        f"{SHARD_SIZE}, OpenCV threads {cv2.getNumThreads()} here, "
        f"{'/'.join(map(str, sorted(default_threads)))} in each Dask worker by default"
    )
    print(
        "timed: the work only, for ours and the baselines alike; outside it, the spawned pool "
        f"of 2 processes started and warmed in {pool_start:.1f} s, the Dask cluster of 2 in "
        f"{cluster_start:.1f} s (a run with a temporary cluster pays that once)"
    )
    print(f"one worker   bare cv2 loop (baseline):             {rate(times['bare'])}")
    print(f"one worker   ours, augment_shard:                   {rate(times['ours'])}")
    print(f"2 processes  bare cv2 loop, half each (baseline):   {rate(times['bare2'])}")
    print(f"2 processes  ours, runner.kind dask, workers 2:     {rate(times['dask2'])}")
    print(f"2 processes  ours, same, OpenCV 1 thread each:      {rate(times['dask2_cv1'])}")
    print(f"2 threads    ours, runner.kind threads, workers 2:  {rate(times['threads2'])}")
    print(f"ours writes the same bytes on 1 worker, Dask and threads: {same}")
    for what, top, bottom, target in (
        ("ours / bare loop, one worker", "ours", "bare", 0.85),
        ("ours / bare loop, two processes", "dask2", "bare2", 0.85),
        ("same, OpenCV 1 thread per worker", "dask2_cv1", "bare2", 0.85),
        ("two threads / two-process bare loop", "threads2", "bare2", None),
        ("ours, two processes / one worker", "dask2", "ours", None),
    ):
        # Each round's pair ran back to back, so its ratio saw one load; the median of those
        # ratios is steadier on a shared machine than the ratio of the two medians.
        paired = sorted(b / a for a, b in zip(times[top], times[bottom], strict=True))
        verdict = ""
        if target:
            met = "met" if statistics.median(paired) >= target else "missed"
            verdict = f", goal >= {target}: {met}"
        print(
            f"{what + ':':38s} {median[top] / median[bottom]:.2f}x of the medians; "
            f"round by round median {statistics.median(paired):.2f}x "
            f"({paired[0]:.2f}-{paired[-1]:.2f}){verdict}"
        )
    if not same:
        raise SystemExit("ours wrote different bytes on different runners")


if __name__ == "__main__":
    main()

"""The translation cache shared by runs: concurrent writers, a killed lock holder, its bound."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rebalance.errors import ConfigError, DataError
from tasks.text.cache import LOW_WATER, TranslationCache
from tasks.text.translators import Translation
from tests.text_helpers import text_config

ROOT = Path(__file__).resolve().parents[2]
DECODING = {"max_new_tokens": 8, "num_beams": 1, "do_sample": False}

# A writer process: waits for the go file, then translates its texts in chunks with a fake
# translator and flushes after each chunk, so the writers' flushes interleave.
WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from tasks.text.cache import TranslationCache
    from tasks.text.translators import Translation

    class Upper:
        model_id = "fake@1"
        def translate(self, texts, /, *, seed):
            return [Translation(text.upper(), False) for text in texts]

    folder, go, first, last = Path(sys.argv[1]), Path(sys.argv[2]), *map(int, sys.argv[3:5])
    decoding = json.loads(sys.argv[5])
    while not go.exists():
        time.sleep(0.005)
    cache = TranslationCache(folder)
    texts = [f"text number {index}" for index in range(first, last)]
    for start in range(0, len(texts), 10):
        cache.translate(Upper(), texts[start : start + 10], decoding=decoding, seed=None, sample=0)
        cache.flush()
    """
)

# Takes the cache's lock, says so, and holds it until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tasks.text.cache import TranslationCache

    with TranslationCache(Path(sys.argv[1])).lock():
        print("locked", flush=True)
        time.sleep(600)
    """
)


class Upper:
    model_id = "fake@1"

    def __init__(self) -> None:
        self.calls = 0

    def translate(self, texts, /, *, seed):
        self.calls += 1
        return [Translation(text.upper(), False) for text in texts]


def _python(script: str, *args: object, **kwargs) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)], env=env, cwd=ROOT, text=True, **kwargs
    )


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.jsonl"))


def test_concurrent_writers_leave_a_complete_readable_cache_without_duplicates(tmp_path):
    folder, go = tmp_path / "cache", tmp_path / "go"
    # Overlapping ranges: both writers translate texts 300-599.
    writers = [
        _python(WRITER, folder, go, first, last, json.dumps(DECODING))
        for first, last in ((0, 600), (300, 900))
    ]
    go.touch()
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]

    translator = Upper()
    cache = TranslationCache(folder)
    texts = [f"text number {index}" for index in range(900)]
    results = cache.translate(translator, texts, decoding=DECODING, seed=None, sample=0)

    assert translator.calls == 0  # every text was cached
    assert [result.text for result in results] == [text.upper() for text in texts]
    keys = [
        json.loads(line)["key"]
        for part in _parts(folder)
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    assert len(keys) == len(set(keys)) == 900  # the lock kept the overlap from being written twice
    assert not list(folder.rglob("*.tmp"))


def test_a_killed_lock_holder_does_not_block_the_next_writer(tmp_path):
    folder = tmp_path / "cache"
    holder = _python(HOLDER, folder, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    cache = TranslationCache(folder, lock_timeout=10)
    cache.translate(Upper(), ["hello"], decoding=DECODING, seed=None, sample=0)

    started = time.monotonic()
    written = cache.flush()

    assert written == 1
    assert time.monotonic() - started < 5
    assert TranslationCache(folder).translate(
        Upper(), ["hello"], decoding=DECODING, seed=None, sample=0
    ) == [Translation("HELLO", False)]


def test_a_lock_held_too_long_is_one_error_naming_the_lock_and_its_holder(tmp_path):
    folder = tmp_path / "cache"
    holder = _python(HOLDER, folder, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        cache = TranslationCache(folder, lock_timeout=0.3)
        cache.translate(Upper(), ["hello"], decoding=DECODING, seed=None, sample=0)

        with pytest.raises(DataError) as caught:
            cache.flush()
    finally:
        holder.kill()
        holder.wait(timeout=30)

    message = str(caught.value)
    assert f"pid {holder.pid}" in message
    assert str(folder / ".lock") in message
    assert "rebalance.cache_dir" in message
    assert not _parts(folder)


def test_leftover_temporary_files_of_a_killed_writer_are_removed_on_the_next_flush(tmp_path):
    folder = tmp_path / "cache"
    cache = TranslationCache(folder)
    cache.translate(Upper(), ["one"], decoding=DECODING, seed=None, sample=0)
    cache.flush()
    (namespace,) = [path for path in folder.iterdir() if path.is_dir()]
    leftover = namespace / ".0123456789abcdef.jsonl.deadbeef.tmp"
    leftover.write_text('{"key": "half-writ', encoding="utf-8")

    cache.translate(Upper(), ["two"], decoding=DECODING, seed=None, sample=0)
    written = cache.flush()

    assert written == 1
    assert not leftover.exists()
    assert len(_parts(folder)) == 2


class Clock:
    """Unix seconds that a test moves by hand: one 'night' per run."""

    def __init__(self) -> None:
        self.now = 1_700_000_000

    def __call__(self) -> float:
        return self.now


def _run(folder: Path, texts: list[str], clock: Clock, **options) -> TranslationCache:
    cache = TranslationCache(folder, clock=clock, **options)
    cache.translate(Upper(), texts, decoding=DECODING, seed=None, sample=0)
    cache.flush()
    return cache


def _texts(folder: Path) -> set[str]:
    (namespace,) = [path for path in folder.iterdir() if path.is_dir()]
    return {entry["text"].lower() for entry in TranslationCache._read(namespace).values()}


def test_a_bounded_cache_evicts_the_least_recently_used_entries(tmp_path):
    folder, clock = tmp_path / "cache", Clock()
    # Texts of one length, so every entry's line has the same size.
    old, kept = [f"old  {i:03d}" for i in range(40)], [f"kept {i:03d}" for i in range(40)]
    new = [f"new  {i:03d}" for i in range(10)]
    _run(folder, old + kept, clock)  # night 1: all written, no bound yet
    line = len(_parts(folder)[0].read_text(encoding="utf-8").splitlines()[0].encode()) + 1
    clock.now += 86_400
    _run(folder, kept, clock, max_bytes=10**9)  # night 2: only `kept` used, hits recorded
    clock.now += 86_400
    # Room below the low-water mark for 55 entries: night 3's 10, night 2's 40, 5 of night 1.
    bound = int(55.5 * line / LOW_WATER) + 1

    cache = _run(folder, new, clock, max_bytes=bound)  # night 3: over the bound

    remaining = _texts(folder)
    assert cache.evicted == 90 - 55
    assert set(new) | set(kept) <= remaining
    assert len(remaining & set(old)) == 5
    assert len(_parts(folder)) == 1  # the namespace was rewritten as one part
    assert cache.size() == 55 * line <= LOW_WATER * bound


def test_an_unbounded_cache_records_no_uses_and_evicts_nothing(tmp_path):
    folder, clock = tmp_path / "cache", Clock()
    _run(folder, ["a", "b"], clock)
    clock.now += 1

    cache = _run(folder, ["a", "b"], clock)

    assert cache.evicted == 0
    assert len(_parts(folder)) == 1  # hits wrote nothing


def test_entries_from_before_the_bound_count_as_used_when_their_part_was_written(tmp_path):
    folder, clock = tmp_path / "cache", Clock()
    _run(folder, ["early"], clock)
    (part,) = _parts(folder)
    lines = [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
    part.write_text(
        "".join(
            json.dumps({k: v for k, v in line.items() if k != "used"}) + "\n" for line in lines
        ),
        encoding="utf-8",
    )
    os.utime(part, (1_600_000_000, 1_600_000_000))

    (entry,) = TranslationCache._read(part.parent).values()

    assert entry["used"] == 1_600_000_000
    assert entry["text"] == "EARLY"


def test_a_part_removed_while_reading_is_a_miss_not_damage(tmp_path, monkeypatch):
    folder, clock = tmp_path / "cache", Clock()
    _run(folder, ["a"], clock)
    (part,) = _parts(folder)
    real_glob = Path.glob

    def glob_then_vanish(self, pattern):
        found = list(real_glob(self, pattern))
        if pattern == "*.jsonl":
            part.unlink()  # another run's eviction, between the listing and the read
        return found

    monkeypatch.setattr(Path, "glob", glob_then_vanish)

    assert TranslationCache._read(part.parent) == {}


def test_the_bound_is_written_in_bytes_or_as_a_size(tmp_path):
    assert text_config(tmp_path, cache_max_bytes="2 GiB").rebalance.cache_max_bytes == 2 * 2**30
    assert text_config(tmp_path, cache_max_bytes=5000).rebalance.cache_max_bytes == 5000
    assert text_config(tmp_path).rebalance.cache_max_bytes is None
    with pytest.raises(ConfigError, match="cache_max_bytes"):
        text_config(tmp_path, cache_max_bytes=0)

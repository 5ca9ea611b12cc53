"""The translation cache shared by runs: concurrent writers, a killed lock holder."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rebalance.errors import DataError
from tasks.text.cache import TranslationCache
from tasks.text.translators import Translation

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

"""A translation cache that persists across runs, so a nightly run translates only new texts.

Entries are keyed by (text hash, model name and revision, decoding options, seed and sample
index). Each namespace (model + decoding) is a folder of JSONL parts; a run adds its new
entries as one new part, written under a temporary name and renamed into place, so a killed
run never leaves a half-written part and concurrent runs never write the same file.

Writers take an exclusive lock (filelock's `FileLock`: an flock on `.lock` in the cache folder)
for the whole flush, so two runs of one dataset at once write one after the other: the second
skips entries the first has just written, and temporary files found under the lock are
leftovers of killed runs, safe to delete. The kernel releases a flock when its holder dies,
so a killed run's lock never blocks the next one. Readers need no lock: a part appears whole
(renamed into place) or not at all, and one removed while they read is a cache miss.

With a size bound (`rebalance.cache_max_bytes`), every entry carries the time a run last
used it (`used`, Unix seconds): new entries when written, hits as small `{"key", "used"}`
lines in the run's part. A flush that leaves the parts above the bound evicts the least
recently used entries, across namespaces, down to `LOW_WATER` of it (so the next runs do not
evict again at once), and rewrites each namespace as one part, all under the lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from rebalance.errors import DataError
from tasks.text.translators import Translation, Translator

META_FILE = "meta.json"
LOCK_FILE = ".lock"
# Eviction brings the cache down to this share of `max_bytes`.
LOW_WATER = 0.9


def text_key(text: str, /, *, seed: int | None, sample: int) -> str:
    """Cache key of one input: its sha256, plus the seed and sample index when sampling."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digest if seed is None else f"{digest}:{seed}:{sample}"


class TranslationCache:
    """Cached translations under `folder`, one namespace per (model, decoding options)."""

    def __init__(
        self,
        folder: Path,
        /,
        *,
        lock_timeout: float = 600.0,
        run: Callable[..., list[Translation]] | None = None,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`run(translator, texts, seed=...)` translates the misses (default: in this process,
        `translator.translate`); `tasks.text.shards.ShardedTranslation` spreads them.
        `max_bytes` bounds the size of the cache's parts (None: unbounded); `clock` gives
        the `used` times."""
        self.folder = folder
        self.lock_timeout = lock_timeout
        self.run = run or _translate_here
        self.max_bytes = max_bytes
        self.clock = clock
        self._loaded: dict[str, dict[str, dict[str, Any]]] = {}
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}
        self._hit: dict[str, set[str]] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0
        self.evicted = 0

    def _namespace(self, model_id: str, decoding: dict[str, Any]) -> str:
        meta = {"model": model_id, "decoding": decoding}
        name = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:20]
        if name not in self._loaded:
            self._meta[name] = meta
            self._loaded[name] = self._read(self.folder / name)
            self._pending[name] = {}
            self._hit[name] = set()
        return name

    @staticmethod
    def _read(folder: Path) -> dict[str, dict[str, Any]]:
        """The entries of a namespace folder, each with its latest `used` time."""
        entries: dict[str, dict[str, Any]] = {}
        used: dict[str, int] = {}
        if not folder.is_dir():
            return entries
        for part in sorted(folder.glob("*.jsonl")):
            try:
                # Entries written before `used` existed count as used when their part was.
                written = int(part.stat().st_mtime)
                with part.open(encoding="utf-8") as handle:
                    for line in handle:
                        entry = json.loads(line)
                        key = entry["key"]
                        stamp = int(entry.get("used", written))
                        used[key] = max(used.get(key, 0), stamp)
                        if "text" in entry:  # else a use of an entry written elsewhere
                            entries[key] = entry
            except FileNotFoundError:
                continue  # evicted by another run's flush since the glob: a miss, not damage
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
                msg = (
                    f"translation cache file {part} is damaged ({type(exc).__name__}: {exc}); "
                    "delete it (its texts are translated again) or set rebalance.cache_dir"
                )
                raise DataError(msg) from None
        return {key: {**entry, "used": used[key]} for key, entry in entries.items()}

    def translate(
        self,
        translator: Translator,
        texts: list[str],
        /,
        *,
        decoding: dict[str, Any],
        seed: int | None,
        sample: int,
    ) -> list[Translation]:
        """Translations of `texts`, from the cache where present, else from `translator`."""
        name = self._namespace(translator.model_id, decoding)
        known = self._loaded[name] | self._pending[name]
        keys = [text_key(text, seed=seed, sample=sample) for text in texts]
        self._hit[name].update(key for key in keys if key in self._loaded[name])
        missing = list(dict.fromkeys(key for key in keys if key not in known))
        self.hits += len(keys) - sum(1 for key in keys if key not in known)
        self.misses += sum(1 for key in keys if key not in known)
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            new = self.run(
                translator, [by_key[key] for key in missing], seed=(seed or 0) * 1000 + sample
            )
            for key, result in zip(missing, new, strict=True):
                entry = {"key": key, "text": result.text, "truncated": result.truncated}
                self._pending[name][key] = entry
                known[key] = entry
        return [Translation(known[key]["text"], known[key]["truncated"]) for key in keys]

    def flush(self) -> int:
        """Write this run's new entries (one part per namespace, atomically); returns count.

        Entries another run wrote since this one read the cache are not written again. With
        `max_bytes`, the part also records this run's hits, and least recently used entries
        are evicted when the cache has grown past the bound (`evicted` counts them).

        Raises:
            DataError: another process held the cache's lock for longer than
                `lock_timeout` seconds (the message names the lock file and its holder).
        """
        bounded = self.max_bytes is not None
        if not any(self._pending.values()) and not (bounded and any(self._hit.values())):
            return 0
        written = 0
        now = int(self.clock())
        with self.lock():
            for name, entries in self._pending.items():
                hits = self._hit[name] if bounded else set()
                if not entries and not hits:
                    continue
                folder = self.folder / name
                folder.mkdir(parents=True, exist_ok=True)
                for leftover in folder.glob(".*.tmp"):
                    leftover.unlink(missing_ok=True)  # a killed writer's: none runs now
                on_disk = self._read(folder)
                new = {
                    key: {**entry, "used": now}
                    for key, entry in entries.items()
                    if key not in on_disk
                }
                # Hits on entries another run evicted meanwhile have nothing left to mark.
                uses = [{"key": key, "used": now} for key in sorted(hits) if key in on_disk]
                meta = folder / META_FILE
                if not meta.exists():
                    _atomic_write(meta, json.dumps(self._meta[name], indent=2) + "\n")
                if new or uses:
                    lines = "".join(
                        json.dumps(line, ensure_ascii=False) + "\n"
                        for line in [*new.values(), *uses]
                    )
                    _atomic_write(folder / f"{secrets.token_hex(8)}.jsonl", lines)
                self._loaded[name].update(on_disk | entries)
                written += len(new)
                entries.clear()
                hits.clear()
            if self.max_bytes is not None:
                self.evicted += self._evict(self.max_bytes)
        return written

    def size(self) -> int:
        """Bytes of the cache's parts (the entries; `meta.json` and the lock not counted)."""
        total = 0
        for part in self.folder.glob("*/*.jsonl"):
            try:
                total += part.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def _evict(self, max_bytes: int) -> int:
        """Under the lock: drop least recently used entries until the parts fit below the
        low-water mark; each namespace is rewritten as one part. Returns entries dropped."""
        if self.size() <= max_bytes:
            return 0
        namespaces = [path for path in self.folder.iterdir() if path.is_dir()]
        parts = {folder: sorted(folder.glob("*.jsonl")) for folder in namespaces}
        lines = [
            (entry["used"], folder, json.dumps(entry, ensure_ascii=False) + "\n")
            for folder in namespaces
            for entry in self._read(folder).values()
        ]
        lines.sort(key=lambda line: line[0], reverse=True)  # most recently used first
        budget, kept = int(max_bytes * LOW_WATER), {folder: [] for folder in namespaces}
        for _, folder, line in lines:
            size = len(line.encode("utf-8"))
            if size > budget:
                break  # strictly least recently used out: nothing older stays
            budget -= size
            kept[folder].append(line)
        for folder in namespaces:
            if kept[folder]:
                _atomic_write(folder / f"{secrets.token_hex(8)}.jsonl", "".join(kept[folder]))
                for part in parts[folder]:
                    part.unlink(missing_ok=True)
            else:
                shutil.rmtree(folder, ignore_errors=True)
        return len(lines) - sum(len(folder_lines) for folder_lines in kept.values())

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the cache folder's exclusive write lock (waits up to `lock_timeout` s).

        Raises:
            DataError: the lock stayed taken for `lock_timeout` seconds.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_FILE
        lock = FileLock(path, timeout=self.lock_timeout, on_acquired=_write_holder)
        try:
            lock.acquire()
        except Timeout:
            holder = _read_holder(path)
            msg = (
                f"translation cache {self.folder} stayed locked by another run (pid {holder}, "
                f"lock file {path}) for {self.lock_timeout:g} s; wait for that run to finish, "
                "or give this one another rebalance.cache_dir"
            )
            raise DataError(msg) from None
        try:
            yield
        finally:
            lock.release()


def _write_holder(descriptor: int) -> None:
    # The holder's pid in the lock file, for the message above (the lock itself is the flock).
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)


def _read_holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def _translate_here(translator: Translator, texts: list[str], /, *, seed: int) -> list[Translation]:
    return translator.translate(texts, seed=seed)


def _atomic_write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with temp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(path)

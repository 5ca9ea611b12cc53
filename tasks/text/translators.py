"""Translation behind a small Protocol, and its MarianMT adapter (transformers, imported lazily).

`load_marian` is the only place that touches transformers and torch, so importing the project
stays fast and the rest of back-translation is plain Python. The adapter counts the texts it
really sends to `generate`, so callers (and tests) can see what the translation cache saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rebalance import faults
from rebalance.errors import ConfigError, RebalanceError
from tasks.text.offline import offline_reason


class ModelUnavailable(RebalanceError):
    """A hub model cannot be loaded (offline, not in the cache): the fallback may step in.

    A wrong local path, or a model that is not MarianMT or needs its own code, is a
    `ConfigError` instead: no fallback hides it.
    """

    def __init__(self, message: str, /, *, model: str = "", reason: str = "") -> None:
        # Defaults keep the exception picklable (pickle re-creates it from the message alone).
        super().__init__(message)
        self.model = model
        self.reason = reason


@dataclass(frozen=True)
class Decoding:
    """`generate` options, in transformers' own names; part of every cache key."""

    max_new_tokens: int
    num_beams: int
    do_sample: bool
    top_p: float
    temperature: float

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `model.generate` (sampling options only when sampling)."""
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_beams": self.num_beams,
            "do_sample": self.do_sample,
        }
        if self.do_sample:
            kwargs |= {"top_p": self.top_p, "temperature": self.temperature}
        return kwargs

    def key(self) -> dict[str, Any]:
        """What changes the output: sampling options count only when sampling."""
        return self.generate_kwargs()


@dataclass(frozen=True)
class Translation:
    """One translated text, and whether its input was cut to the model's limit."""

    text: str
    truncated: bool


class Translator(Protocol):
    """Translates texts in one direction with one model."""

    model_id: str
    """The model's name and revision (hub commit or content digest): part of the cache key."""

    def translate(self, texts: Sequence[str], /, *, seed: int) -> list[Translation]:
        """Translate `texts` (in order); `seed` makes sampled decoding reproducible."""


@dataclass(frozen=True)
class Runtime:
    """Where and how models run."""

    device: str = "auto"
    num_threads: int | None = None
    batch_size: int = 128
    max_batch_tokens: int = 4096


@dataclass(frozen=True)
class MarianSpec:
    """`load_marian`'s arguments: hashable and picklable, to load the model in a worker."""

    name: str
    revision: str | None
    local_files_only: bool
    decoding: Decoding
    runtime: Runtime

    def load(self) -> MarianTranslator:
        """A fresh `load_marian` with these arguments."""
        return load_marian(
            self.name,
            revision=self.revision,
            local_files_only=self.local_files_only,
            decoding=self.decoding,
            runtime=self.runtime,
        )


class MarianTranslator:
    """A MarianMT model and its tokenizer, with length-sorted, token-budget batches."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        decoding: Decoding,
        runtime: Runtime,
        device: str,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.decoding = decoding
        self.runtime = runtime
        self.device = device
        limits = [model.config.max_position_embeddings, tokenizer.model_max_length]
        self.max_input_tokens = int(min(limit for limit in limits if limit))
        # The decoder cannot go past its position embeddings, whatever max_new_tokens asks.
        self.generate_kwargs = decoding.generate_kwargs() | {
            "max_new_tokens": min(decoding.max_new_tokens, model.config.max_position_embeddings - 1)
        }
        # How to load this model again in another process (set by `load_marian`).
        self.spec: MarianSpec | None = None
        # What the cache saved shows here: texts really sent to generate, and the calls.
        self.texts_generated = 0
        self.generate_calls = 0

    def batches(self, texts: Sequence[str], /) -> list[list[int]]:
        """The indices of `texts` in each `generate` call, in the order `translate` runs them.

        Translating one batch's texts alone (in this order) makes that very batch again, with
        the same seed: the shards of `tasks.text.shards` are whole batches for that reason.
        """
        ids, _ = self._input_ids(texts)
        return self._batches(ids)

    def _input_ids(self, texts: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        ids = self.tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
        eos = self.tokenizer.eos_token_id
        truncated = [len(row) > self.max_input_tokens for row in ids]
        # Cut to the model's limit by hand (keeping </s>), so each cut is counted.
        ids = [
            [*row[: self.max_input_tokens - 1], eos] if cut else row
            for row, cut in zip(ids, truncated, strict=True)
        ]
        return ids, truncated

    def _batches(self, ids: list[list[int]]) -> list[list[int]]:
        # Longest first (a stable sort): batches of similar lengths waste little on padding.
        order = sorted(range(len(ids)), key=lambda index: -len(ids[index]))
        bounds = token_batches(
            [len(ids[index]) for index in order],
            batch_size=self.runtime.batch_size,
            max_batch_tokens=self.runtime.max_batch_tokens,
        )
        return [order[start:stop] for start, stop in bounds]

    def translate(self, texts: Sequence[str], /, *, seed: int) -> list[Translation]:
        import torch

        if not texts:
            return []
        ids, truncated = self._input_ids(texts)
        outputs: list[str] = [""] * len(ids)
        for batch in self._batches(ids):
            faults.inject("translate-batch")
            padded = self.tokenizer.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
            padded = {name: tensor.to(self.device) for name, tensor in padded.items()}
            batch_seed = _batch_seed(seed, [texts[i] for i in batch])
            devices = [torch.device(self.device).index or 0] if self.device == "cuda" else []
            with torch.random.fork_rng(devices=devices), torch.inference_mode():
                # Seeded inside a forked RNG: reproducible, and the global state is untouched.
                torch.manual_seed(batch_seed)
                generated = self.model.generate(**padded, **self.generate_kwargs)
            decoded = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
            for index, text in zip(batch, decoded, strict=True):
                outputs[index] = text
            self.generate_calls += 1
            self.texts_generated += len(batch)
        return [
            Translation(text=text, truncated=cut)
            for text, cut in zip(outputs, truncated, strict=True)
        ]


def token_batches(
    lengths: Sequence[int], /, *, batch_size: int, max_batch_tokens: int
) -> list[tuple[int, int]]:
    """(start, stop) of consecutive batches of texts sorted longest first.

    A batch holds at most `batch_size` texts and, padded to its first (longest) text, at most
    `max_batch_tokens` tokens; a text longer than the budget goes alone. Short texts thus run
    in large batches and long ones in small: each decoding step reads all the weights (the
    58k-row output layer of opus-mt alone is 119 MB), so the more texts share a step the
    cheaper each is, while rows × length bounds the memory and the encoder's work.
    """
    bounds, start = [], 0
    while start < len(lengths):
        rows = max(1, min(batch_size, max_batch_tokens // max(lengths[start], 1)))
        stop = min(start + rows, len(lengths))
        bounds.append((start, stop))
        start = stop
    return bounds


def _batch_seed(seed: int, texts: Sequence[str]) -> int:
    digest = hashlib.sha256(repr((seed, list(texts))).encode("utf-8")).digest()
    return int.from_bytes(digest[:7], "big")


def resolve_device(requested: str, /) -> str:
    """`auto` is CUDA when torch sees a GPU, else CPU."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        msg = "rebalance.device is cuda but torch sees no CUDA GPU; set device: auto or cpu"
        raise ConfigError(msg)
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def is_local(name: str, /) -> bool:
    """A model named by a path (absolute, ./, ../ or ~) rather than a hub repository id."""
    return name.startswith(("/", "./", "../", "~")) or Path(name).is_dir()


def local_model_folder(name: str, /) -> Path | None:
    """The folder of a model named by a path (None for a hub name); it must hold config.json.

    Raises:
        ConfigError: the name is a path, but no model folder is there. A wrong path is a
            mistake in the config, not a model to fall back from.
    """
    if not is_local(name):
        return None
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        what = "has no config.json" if path.is_dir() else "does not exist"
        msg = (
            f"rebalance.model: local model folder {path} {what}; save a MarianMT model there "
            "(save_pretrained), fix the path (relative paths resolve against the config "
            "file's folder), or name a hub model such as Helsinki-NLP/opus-mt-{src}-{tgt}"
        )
        raise ConfigError(msg)
    return path


def check_local_model(name: str, /) -> None:
    """Refuse, before any data is read, a local model folder that is missing or not MarianMT.

    Raises:
        ConfigError: naming the folder and the fix.
    """
    path = local_model_folder(name)
    if path is None:
        return
    try:
        raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = (
            f"rebalance.model: {path / 'config.json'} cannot be read as JSON ({exc}); save "
            "the model again with save_pretrained"
        )
        raise ConfigError(msg) from None
    check_model_config(raw, name)


def check_model_config(raw: Any, name: str, /) -> None:
    """Refuse a model that needs its own code (`auto_map`) or is not a MarianMT model.

    rebalance never passes `trust_remote_code=True`: a model folder or hub repository could
    otherwise run arbitrary Python on the worker.

    Raises:
        ConfigError: naming the model and what to use instead.
    """
    if not isinstance(raw, dict):
        msg = f"rebalance.model: the config.json of '{name}' is not a JSON object"
        raise ConfigError(msg)
    if raw.get("auto_map"):
        msg = (
            f"rebalance.model: '{name}' needs its own Python code (config.json has auto_map), "
            "which rebalance never runs (no trust_remote_code); use a MarianMT model such as "
            "Helsinki-NLP/opus-mt-{src}-{tgt}"
        )
        raise ConfigError(msg)
    if raw.get("model_type") != "marian":
        msg = (
            f"rebalance.model: '{name}' is a {raw.get('model_type') or 'untyped'!r} model, not "
            "MarianMT (model_type 'marian'); use a MarianMT model such as "
            "Helsinki-NLP/opus-mt-{src}-{tgt}"
        )
        raise ConfigError(msg)


def load_marian(
    name: str,
    /,
    *,
    revision: str | None,
    local_files_only: bool,
    decoding: Decoding,
    runtime: Runtime,
) -> MarianTranslator:
    """Load a MarianMT model and tokenizer with `from_pretrained` (safetensors, no remote code).

    Raises:
        ConfigError: a local model folder is missing, or the model needs its own code or is
            not MarianMT.
        ModelUnavailable: the model cannot be loaded; the message names it and how to
            provide it (a local folder, the Hugging Face cache, or a fallback).
    """
    path = local_model_folder(name)
    if path is None:
        local_files_only = _cache_only(name, revision=revision, local_files_only=local_files_only)
    with warnings.catch_warnings(), _quiet_hub():
        # MarianTokenizer recommends sacremoses for punctuation normalisation; not needed.
        warnings.filterwarnings("ignore", message=".*sacremoses.*")
        from transformers import MarianMTModel, MarianTokenizer, PretrainedConfig

        source = str(path) if path is not None else name
        options = {"revision": revision, "local_files_only": local_files_only}
        try:
            # config.json alone first: a model that needs its own code is refused unloaded.
            raw, _ = PretrainedConfig.get_config_dict(source, **options)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise _unavailable(name, exc) from None
        check_model_config(raw, name)
        try:
            model = MarianMTModel.from_pretrained(
                source, use_safetensors=True, trust_remote_code=False, **options
            )
            tokenizer = MarianTokenizer.from_pretrained(source, **options)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise _unavailable(name, exc) from None
    import torch

    device = resolve_device(runtime.device)
    if runtime.num_threads and device == "cpu":
        torch.set_num_threads(runtime.num_threads)
    model = model.to(device)
    if device == "cuda":
        model = model.half()
    model.eval()
    model_id = f"{name}@{_revision(name, path, revision)}"
    translator = MarianTranslator(
        model, tokenizer, model_id=model_id, decoding=decoding, runtime=runtime, device=device
    )
    translator.spec = MarianSpec(name, revision, local_files_only, decoding, runtime)
    return translator


def _cache_only(name: str, /, *, revision: str | None, local_files_only: bool) -> bool:
    """Whether a hub model must load from the Hugging Face cache alone: asked, or offline.

    Raises:
        ModelUnavailable: so, and the cache lacks the model; decided without importing
            transformers or waiting for the hub's retries.
    """
    from huggingface_hub import try_to_load_from_cache

    reason = "local_files_only is set" if local_files_only else offline_reason()
    if reason is None:
        return False
    if not isinstance(try_to_load_from_cache(name, "config.json", revision=revision), str):
        raise _unavailable(name, f"{reason}, and the model is not in the Hugging Face cache")
    return True


def _unavailable(name: str, exc: Exception | str) -> ModelUnavailable:
    # The first sentence says enough (transformers' messages run on with links).
    reason = " ".join(str(exc).split()).split(". ")[0][:160] or type(exc).__name__
    msg = (
        f"cannot load translation model '{name}' ({reason}); on a machine with "
        f"network run `hf download {name}` to fill the Hugging Face cache (HF_HOME), "
        "or save it to a folder and point rebalance.model at it (e.g. "
        "/models/opus-mt-{src}-{tgt}), or set rebalance.fallback: eda"
    )
    return ModelUnavailable(msg, model=name, reason=reason)


@contextmanager
def _quiet_hub() -> Iterator[None]:
    """Hide huggingface_hub's per-retry warnings while loading; the one error says it all."""
    loggers = [
        logging.getLogger(name) for name in ("huggingface_hub", "huggingface_hub.utils._http")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _revision(name: str, path: Path | None, revision: str | None) -> str:
    """The hub commit of a cached model, or a digest of a local folder's weights and vocab."""
    if path is None:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json", revision=revision)
        if isinstance(cached, str):
            return Path(cached).parent.name  # snapshots/<commit>/config.json
        return revision or "main"
    digest = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if file.suffix in {".json", ".safetensors", ".spm"} and file.is_file():
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return "sha256:" + digest.hexdigest()[:16]

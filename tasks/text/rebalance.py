"""Minority-class training texts paraphrased by back-translation (or EDA) up to their target.

Only training texts of classes below their target are ever sent to a translator, so no
paraphrase derives from a val or test text.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rebalance.config import TextConfig
from tasks.core.classes import class_counts
from tasks.core.columns import SYNTHETIC, Columns
from tasks.core.conflicts import IDENTITY, LABEL, Conflicts, original_identities
from tasks.core.contract import NO_FACTS, NoFacts, Resampled
from tasks.core.markdown import render
from tasks.core.targets import shortfalls
from tasks.text.back_translation import back_translator, load_translators, model_name, variants
from tasks.text.cache import TranslationCache
from tasks.text.eda import eda_paraphrase, eda_rng, words_of
from tasks.text.paraphrase import (
    CONTRADICTS,
    TEXT_IDENTITY,
    Candidate,
    ClassStats,
    Gate,
    Source,
    paraphrase,
    shortfall_notes,
    text_identity,
)
from tasks.text.shards import ShardedTranslation
from tasks.text.translators import Decoding, ModelUnavailable, Runtime
from validations.text import normalise_text

SOURCE_ID = "source_row_id"
PIVOT = "pivot"
MODEL = "model"
EDA_LABEL = "eda (model-free offline fallback: random swap / deletion / insertion of words)"
EXAMPLES_PER_CLASS = 3
TEMPLATE = Path(__file__).with_name("templates") / "paraphrasing.md.j2"

# The translation cache's folder under `output` when `rebalance.cache_dir` is empty.
TRANSLATION_CACHE = ".translation-cache"


def translation_cache(config: TextConfig, /) -> Path:
    """The translation cache's folder: `rebalance.cache_dir`, else `<output>/.translation-cache`."""
    return config.rebalance.cache_dir or config.output / TRANSLATION_CACHE


@dataclass(frozen=True)
class BackTranslationFacts:
    """The models, decoding and cache behind a back-translation run."""

    method_label: str
    models: dict[str, str]
    device: str
    decoding: dict[str, Any]
    batch_size: int
    max_batch_tokens: int
    truncated_inputs: dict[str, int]
    cache: dict[str, Any]
    texts_translated: int
    translate_shards: int


@dataclass(frozen=True)
class EdaFacts:
    """The settings of an EDA run (the model-free method)."""

    method_label: str
    alpha: float


@dataclass(frozen=True)
class ParaphraseFacts:
    """How a text run was rebalanced, for the manifest and the report."""

    method: str
    target: str | int | dict[str, int]
    details: BackTranslationFacts | EdaFacts
    seconds: float
    per_class: dict[str, ClassStats]

    def as_manifest(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "target": self.target,
            **dataclasses.asdict(self.details),
            "seconds": self.seconds,
            "per_class": {name: item.as_dict() for name, item in self.per_class.items()},
        }


def rebalance_texts(
    train: pl.DataFrame,
    /,
    *,
    columns: Columns,
    config: TextConfig,
    holdout: pl.DataFrame | None = None,
) -> Resampled[ParaphraseFacts]:
    """Paraphrase minority-class training texts up to the target; returns the new train frame.

    A paraphrase identical (`text_identity`) to an original text of another class, in the
    training split or in `holdout` (val's and test's `labelled_identities`), is rejected and
    another candidate takes its place; the class's shortfall, if any, counts it as dropped.

    Raises:
        ModelUnavailable: back-translation without a fallback, and a model cannot be loaded.
        ConfigError: `rebalance.target` names a class the training split lacks.
    """
    options = config.rebalance
    label, text, id_column = columns.label, columns.features[0], columns.id_column
    needed = shortfalls(class_counts(train[label]), options.target)
    if options.method == "none" or not any(needed.values()):
        return _resampled(train, [], columns, config, method="none", facts=NO_FACTS)

    # Only training texts of classes below their target are ever paraphrased.
    sources = {
        name: [
            Source(row_id, body)
            for row_id, body in train.filter(pl.col(label) == name)
            .select(id_column, text)
            .iter_rows()
        ]
        for name, count in needed.items()
        if count
    }
    job = _Job(
        sources=sources,
        needed=needed,
        gate=Gate(options.min_length_ratio, options.max_length_ratio),
        existing={normalise_text(body) for body in train[text].to_list()},
        originals=_classes_by_text(train, holdout, text=text, label=label),
        config=config,
    )
    notes: list[str] = []
    method = options.method
    translators = None
    if method == "back_translation":
        try:
            translators = load_translators(
                options.model,
                options.source_language,
                options.pivots,
                revision=options.revision,
                local_files_only=options.local_files_only,
                decoding=_decoding(config),
                runtime=Runtime(
                    device=options.device,
                    num_threads=options.num_threads,
                    batch_size=options.batch_size,
                    max_batch_tokens=options.max_batch_tokens,
                ),
            )
        except ModelUnavailable as exc:
            if options.fallback is None:
                raise
            notes.append(
                f"translation model '{exc.model}' could not be loaded ({exc.reason}): used the "
                f"offline fallback {options.fallback} instead of back-translation"
            )
            method = options.fallback

    started = time.perf_counter()
    if translators is not None:
        rows, stats, details, hint = _back_translate(job, translators)
    else:
        rows, stats, details, hint = _eda(job)
    facts = ParaphraseFacts(
        method=method,
        target=options.target,
        details=details,
        seconds=round(time.perf_counter() - started, 3),
        per_class={str(name): item for name, item in stats.items()},
    )
    notes += shortfall_notes(stats, hint=hint)
    return _resampled(
        train,
        rows,
        columns,
        config,
        method=method,
        facts=facts,
        sections=(_report_section(facts, rows),),
        notes=notes,
        conflicts=_conflicts(stats),
    )


def _classes_by_text(
    train: pl.DataFrame, holdout: pl.DataFrame | None, *, text: str, label: str
) -> dict[str, frozenset[object]]:
    """Normalised text → the classes of the original texts (train, val, test) that have it."""
    pairs = original_identities(
        train, holdout, identify=lambda frame: text_identity(frame, text), label=label
    )
    grouped = pairs.group_by(IDENTITY, maintain_order=True).agg(pl.col(LABEL))
    return {
        key: frozenset(labels)
        for key, labels in zip(grouped[IDENTITY], grouped[LABEL], strict=True)
    }


def _conflicts(stats: dict[object, ClassStats]) -> Conflicts:
    """Paraphrases rejected for contradicting an original: replaced while the class still
    reached its target, dropped as far as it fell short."""
    found = {name: item.rejected.get(CONTRADICTS, 0) for name, item in stats.items()}
    dropped = {
        name: min(found[name], max(item.needed - item.accepted, 0)) for name, item in stats.items()
    }
    return Conflicts.counted(TEXT_IDENTITY, found=found, dropped=dropped)


@dataclass(frozen=True)
class _Job:
    """What both methods paraphrase, and against what."""

    sources: dict[object, list[Source]]
    needed: dict[object, int]
    gate: Gate
    existing: set[str]
    # Normalised text → the classes of the originals (train, val, test) with that text.
    originals: dict[str, frozenset[object]]
    config: TextConfig


# An accepted paraphrase with its pivot (None for eda) and model (or "eda").
Row = tuple[Candidate, str | None, str]


def _decoding(config: TextConfig) -> Decoding:
    options = config.rebalance
    return Decoding(
        max_new_tokens=options.max_new_tokens,
        num_beams=options.num_beams,
        do_sample=options.do_sample,
        top_p=options.top_p,
        temperature=options.temperature,
    )


def _back_translate(
    job: _Job, translators: dict[tuple[str, str], Any]
) -> tuple[list[Row], dict[object, ClassStats], BackTranslationFacts, str]:
    options = job.config.rebalance
    decoding = _decoding(job.config)
    sharded = ShardedTranslation(job.config)
    cache = TranslationCache(
        translation_cache(job.config),
        run=sharded,
        max_bytes=options.cache_max_bytes,
    )
    truncated: Counter = Counter()
    produce = back_translator(
        translators,
        cache,
        source_language=options.source_language,
        decoding=decoding,
        seed=job.config.random_state,
        truncated=truncated,
    )
    rounds = variants(
        options.pivots, samples_per_pivot=options.samples_per_pivot, do_sample=options.do_sample
    )
    with sharded:  # a Dask runner starts at the first miss and stops here
        accepted, stats = paraphrase(
            job.sources,
            job.needed,
            variants=rounds,
            produce=produce,
            gate=job.gate,
            existing=job.existing,
            originals=job.originals,
        )
    written = cache.flush()
    details = BackTranslationFacts(
        method_label="back_translation (MarianMT)",
        models={f"{src}→{tgt}": t.model_id for (src, tgt), t in translators.items()},
        device=next(iter(translators.values())).device,
        decoding=decoding.generate_kwargs(),
        batch_size=options.batch_size,
        max_batch_tokens=options.max_batch_tokens,
        truncated_inputs={leg: int(truncated[leg]) for leg in sorted(truncated)},
        cache={
            "folder": str(cache.folder),
            "hits": cache.hits,
            "misses": cache.misses,
            "entries_written": written,
            "entries_evicted": cache.evicted,
        },
        texts_translated=sum(t.texts_generated for t in translators.values()),
        translate_shards=sharded.shards_run,
    )
    rows = []
    for candidate in accepted:
        pivot = candidate.variant[0]
        there = model_name(options.model, src=options.source_language, tgt=pivot)
        back = model_name(options.model, src=pivot, tgt=options.source_language)
        rows.append((candidate, pivot, f"{there} → {back}"))
    hint = "add pivots, raise samples_per_pivot (with do_sample) or widen the length band"
    return rows, stats, details, hint


def _eda(job: _Job) -> tuple[list[Row], dict[object, ClassStats], EdaFacts, str]:
    options = job.config.rebalance
    # In-corpus words: each class inserts only words from its own training texts.
    vocabulary = {
        name: sorted({word for item in items for word in words_of(item.text)})
        for name, items in job.sources.items()
    }

    def produce(round_index: int, labels: list[object], texts: list[str]) -> list[str]:
        return [
            eda_paraphrase(
                body,
                vocabulary=vocabulary[name],
                alpha=options.alpha,
                rng=eda_rng(job.config.random_state, round_index, body),
            )
            for name, body in zip(labels, texts, strict=True)
        ]

    rounds_needed = max(
        math.ceil(job.needed[name] / len(items)) for name, items in job.sources.items()
    )
    accepted, stats = paraphrase(
        job.sources,
        job.needed,
        # Short texts give few distinct edits, so allow rounds for duplicates to be redrawn.
        variants=range(4 * rounds_needed + 5),
        produce=produce,
        gate=job.gate,
        existing=job.existing,
        originals=job.originals,
    )
    details = EdaFacts(method_label=EDA_LABEL, alpha=options.alpha)
    hint = "raise alpha, widen the length band, or add training texts to the class"
    return [(candidate, None, "eda") for candidate in accepted], stats, details, hint


def _resampled(
    train: pl.DataFrame,
    rows: list[Row],
    columns: Columns,
    config: TextConfig,
    *,
    method: str,
    facts: ParaphraseFacts | NoFacts,
    sections: tuple[str, ...] = (),
    notes: list[str] | None = None,
    conflicts: Conflicts | None = None,
) -> Resampled:
    label, text, id_column = columns.label, columns.features[0], columns.id_column
    originals = train.select(columns.kept).with_columns(
        pl.lit(False).alias(SYNTHETIC),
        pl.lit(None, dtype=train.schema[id_column]).alias(SOURCE_ID),
        pl.lit(None, dtype=pl.String).alias(PIVOT),
        pl.lit(None, dtype=pl.String).alias(MODEL),
    )
    synthetic = pl.DataFrame(
        {
            id_column: pl.Series([None] * len(rows), dtype=train.schema[id_column]),
            text: pl.Series([c.text for c, _, _ in rows], dtype=pl.String),
            label: pl.Series([c.label for c, _, _ in rows], dtype=train.schema[label]),
            SYNTHETIC: pl.Series([True] * len(rows), dtype=pl.Boolean),
            SOURCE_ID: pl.Series(
                [c.source.row_id for c, _, _ in rows], dtype=train.schema[id_column]
            ),
            PIVOT: pl.Series([pivot for _, pivot, _ in rows], dtype=pl.String),
            MODEL: pl.Series([model for _, _, model in rows], dtype=pl.String),
        }
    ).select(originals.columns)
    options = config.rebalance
    params: dict[str, Any] = {"target": options.target}
    if isinstance(facts, ParaphraseFacts) and isinstance(facts.details, BackTranslationFacts):
        params |= {"pivots": options.pivots, "model": options.model, **facts.details.decoding}
    elif method == "eda":
        params |= {"alpha": options.alpha}
    return Resampled(
        frame=pl.concat([originals, synthetic]),
        requested=options.method,
        sampler=None if method == "none" else method,
        params=params,
        fell_back=method != options.method,
        notes=list(notes or []),
        facts=facts,
        report_sections=sections,
        conflicts=conflicts or Conflicts(TEXT_IDENTITY),
    )


def _cell(text: str, limit: int = 100) -> str:
    """A text on one line for a table cell: line breaks shown as ⏎, cut to `limit`."""
    flat = " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _report_section(facts: ParaphraseFacts, rows: list[Row]) -> str:
    classes = []
    for name, item in facts.as_manifest()["per_class"].items():
        rate = item["acceptance_rate"]
        classes.append(
            {
                **item,
                "name": name,
                "rate": "–" if rate is None else f"{rate:.0%}",
                "rejected": ", ".join(f"{k}: {v}" for k, v in item["rejected"].items()) or "–",
            }
        )
    shown: Counter = Counter()
    examples = []
    for candidate, _, _ in rows:
        if shown[candidate.label] < EXAMPLES_PER_CLASS:
            shown[candidate.label] += 1
            examples.append(
                {
                    "label": candidate.label,
                    "source": _cell(candidate.source.text),
                    "paraphrase": _cell(candidate.text),
                }
            )
    return render(TEMPLATE, facts=facts, classes=classes, examples=examples)

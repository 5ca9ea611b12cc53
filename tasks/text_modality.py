"""The text modality: minority-class training texts are paraphrased by back-translation (or EDA).

Val and test are written exactly as split. Only training texts of classes below their target
are ever sent to a translator, so no paraphrase derives from a val or test text.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rebalance.config import TextConfig
from rebalance.errors import ConfigError
from tasks.back_translation import (
    back_translator,
    directions,
    load_translators,
    model_name,
    variants,
)
from tasks.class_weights import CLASS_WEIGHTS_FILE, class_weights_for_training
from tasks.eda import eda_paraphrase, eda_rng, words_of
from tasks.ingest import Columns, file_sha256
from tasks.modality import SYNTHETIC, CheckedTable, Ingested, Resampled, write_parquet
from tasks.paraphrase import (
    Candidate,
    ClassStats,
    Gate,
    Source,
    needed_per_class,
    paraphrase,
    shortfall_notes,
)
from tasks.split import class_counts
from tasks.text_ingest import normalise_text, normalised_text_expr, read_texts
from tasks.text_shards import ShardedTranslation
from tasks.translation_cache import TranslationCache
from tasks.translators import Decoding, ModelUnavailable, Runtime, check_local_model

SOURCE_ID = "source_row_id"
PIVOT = "pivot"
MODEL = "model"
EDA_LABEL = "eda (model-free offline fallback: random swap / deletion / insertion of words)"
EXAMPLES_PER_CLASS = 3


class TextModality:
    """Text classification data: one text column and a label in CSV, Parquet or JSONL."""

    def check_config(self, config: TextConfig, /) -> str | None:
        options = config.rebalance
        if config.split.group_column is not None:
            msg = (
                "split.group_column is not supported for text yet (duplicate texts are kept "
                "together already); remove it"
            )
            raise ConfigError(msg)
        try:
            model_name(options.model, src=options.source_language, tgt=options.pivots[0])
        except (KeyError, IndexError, ValueError) as exc:
            msg = (
                f"rebalance.model {options.model!r} is not a valid template ({exc}); use "
                "{src} and {tgt}, e.g. Helsinki-NLP/opus-mt-{src}-{tgt}"
            )
            raise ConfigError(msg) from None
        if options.method == "none":
            return None
        if options.method == "eda":
            return "eda"
        for src, tgt in directions(options.source_language, options.pivots):
            check_local_model(model_name(options.model, src=src, tgt=tgt))
        return f"back_translation via {', '.join(options.pivots)} ({options.model})"

    def ingest(self, config: TextConfig, /) -> Ingested:
        frame, columns, rows_read = read_texts(
            config.source,
            text_column=config.text_column,
            label=config.label,
            id_column=config.id_column,
        )
        return Ingested(
            frame=frame,
            columns=columns,
            source_sha256=file_sha256(config.source),
            rows_read=rows_read,
        )

    def validate(self, ingested: Ingested, config: TextConfig, output_dir: Path, /) -> CheckedTable:
        from validations.text_checks import validate_texts

        return validate_texts(
            ingested.frame,
            columns=ingested.columns,
            null_policy=config.validation.null_policy,
            bad_text_policy=config.validation.bad_text_policy,
            dataset=config.name,
            source=config.source,
            output_dir=output_dir,
        )

    def group_keys(
        self, frame: pl.DataFrame, columns: Columns, config: TextConfig, /
    ) -> pl.Series | None:
        if not config.split.keep_duplicates_together:
            return None
        # Texts equal after case/whitespace normalisation land in one split.
        return frame.select(normalised_text_expr(columns.features[0])).to_series().hash(seed=0)

    def write_holdout(
        self,
        frame: pl.DataFrame,
        split: str,
        columns: Columns,
        config: TextConfig,
        run_dir: Path,
        /,
    ) -> None:
        write_parquet(frame.select(columns.kept), run_dir / f"{split}.parquet")

    def rebalance(
        self, train: pl.DataFrame, columns: Columns, config: TextConfig, run_dir: Path, /
    ) -> Resampled:
        resampled = rebalance_texts(train, columns=columns, config=config)
        write_parquet(resampled.frame, run_dir / "train.parquet")
        weights = class_weights_for_training(
            class_counts(train[columns.label]), beta=config.class_weights.beta, label=columns.label
        )
        (run_dir / CLASS_WEIGHTS_FILE).write_text(
            json.dumps(weights, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return resampled


def rebalance_texts(train: pl.DataFrame, /, *, columns: Columns, config: TextConfig) -> Resampled:
    """Paraphrase minority-class training texts up to the target; returns the new train frame.

    Raises:
        ModelUnavailable: back-translation without a fallback, and a model cannot be loaded.
        ConfigError: `rebalance.target` names a class the training split lacks.
    """
    options = config.rebalance
    label, text, id_column = columns.label, columns.features[0], columns.id_column
    needed = needed_per_class(class_counts(train[label]), options.target)
    if options.method == "none" or not any(needed.values()):
        return _resampled(train, [], columns, config, method="none", extra={}, sections=[])

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
        rows, stats, extra, hint = _back_translate(job, translators)
    else:
        rows, stats, extra, hint = _eda(job)
    extra = {
        "method": method,
        "target": options.target,
        **extra,
        "seconds": round(time.perf_counter() - started, 3),
        "per_class": {str(name): item.as_dict() for name, item in stats.items()},
    }
    notes += shortfall_notes(stats, hint=hint)
    return _resampled(
        train,
        rows,
        columns,
        config,
        method=method,
        extra=extra,
        sections=[_report_section(extra, rows)],
        notes=notes,
    )


@dataclass(frozen=True)
class _Job:
    """What both methods paraphrase, and against what."""

    sources: dict[object, list[Source]]
    needed: dict[object, int]
    gate: Gate
    existing: set[str]
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
) -> tuple[list[Row], dict[object, ClassStats], dict[str, Any], str]:
    options = job.config.rebalance
    decoding = _decoding(job.config)
    sharded = ShardedTranslation(job.config)
    cache = TranslationCache(
        options.cache_dir or job.config.output / ".translation-cache", run=sharded
    )
    truncated: Counter = Counter()
    produce = back_translator(
        translators,
        cache,
        source_language=options.source_language,
        decoding=decoding,
        seed=job.config.split.seed,
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
        )
    written = cache.flush()
    extra = {
        "method_label": "back_translation (MarianMT)",
        "models": {f"{src}→{tgt}": t.model_id for (src, tgt), t in translators.items()},
        "device": next(iter(translators.values())).device,
        "decoding": decoding.generate_kwargs(),
        "batch_size": options.batch_size,
        "max_batch_tokens": options.max_batch_tokens,
        "truncated_inputs": {leg: int(truncated[leg]) for leg in sorted(truncated)},
        "cache": {
            "folder": str(cache.folder),
            "hits": cache.hits,
            "misses": cache.misses,
            "entries_written": written,
        },
        "texts_translated": sum(t.texts_generated for t in translators.values()),
        "translate_shards": sharded.shards_run,
    }
    rows = []
    for candidate in accepted:
        pivot = candidate.variant[0]
        there = model_name(options.model, src=options.source_language, tgt=pivot)
        back = model_name(options.model, src=pivot, tgt=options.source_language)
        rows.append((candidate, pivot, f"{there} → {back}"))
    hint = "add pivots, raise samples_per_pivot (with do_sample) or widen the length band"
    return rows, stats, extra, hint


def _eda(job: _Job) -> tuple[list[Row], dict[object, ClassStats], dict[str, Any], str]:
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
                rng=eda_rng(job.config.split.seed, round_index, body),
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
    )
    extra = {"method_label": EDA_LABEL, "alpha": options.alpha}
    hint = "raise alpha, widen the length band, or add training texts to the class"
    return [(candidate, None, "eda") for candidate in accepted], stats, extra, hint


def _resampled(
    train: pl.DataFrame,
    rows: list[Row],
    columns: Columns,
    config: TextConfig,
    *,
    method: str,
    extra: dict[str, Any],
    sections: list[str],
    notes: list[str] | None = None,
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
    if method == "back_translation":
        params |= {"pivots": options.pivots, "model": options.model, **extra.get("decoding", {})}
    elif method == "eda":
        params |= {"alpha": options.alpha}
    return Resampled(
        frame=pl.concat([originals, synthetic]),
        requested=options.method,
        sampler=None if method == "none" else method,
        params=params,
        fell_back=method != options.method,
        notes=list(notes or []),
        extra=extra,
        report_sections=sections,
    )


def _cell(text: str, limit: int = 100) -> str:
    flat = " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def _report_section(extra: dict[str, Any], rows: list[Row]) -> str:
    lines = ["## Paraphrasing", "", f"Method: **{extra['method_label']}**.", ""]
    if extra["method"] == "eda":
        lines += [
            "These paraphrases come from the offline fallback, not from translation models: "
            "expect weaker, noisier paraphrases than back-translation.",
            "",
        ]
    else:
        lines += [f"- models: {', '.join(f'`{k}`: `{v}`' for k, v in extra['models'].items())}"]
        lines += [
            f"- device: {extra['device']}; decoding: `{extra['decoding']}`",
            f"- inputs truncated to the model's limit: {extra['truncated_inputs'] or 'none'}",
            f"- translation cache: {extra['cache']['hits']} hits, {extra['cache']['misses']} "
            f"misses; {extra['texts_translated']} texts translated",
            "",
        ]
    lines += [
        "| class | needed | tried | accepted | acceptance rate | rejected |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, item in extra["per_class"].items():
        rate = "–" if item["acceptance_rate"] is None else f"{item['acceptance_rate']:.0%}"
        rejected = ", ".join(f"{k}: {v}" for k, v in item["rejected"].items()) or "–"
        lines.append(
            f"| {name} | {item['needed']} | {item['attempted']} | {item['accepted']} "
            f"| {rate} | {rejected} |"
        )
    lines += ["", "### Examples (source → paraphrase)", "", "| class | source | paraphrase |"]
    lines += ["|---|---|---|"]
    shown: Counter = Counter()
    for candidate, _, _ in rows:
        if shown[candidate.label] < EXAMPLES_PER_CLASS:
            shown[candidate.label] += 1
            lines.append(
                f"| {candidate.label} | {_cell(candidate.source.text)} | {_cell(candidate.text)} |"
            )
    return "\n".join(lines)


TEXT = TextModality()

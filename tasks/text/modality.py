"""The text modality: minority-class training texts are paraphrased by back-translation (or EDA).

Val and test are written exactly as split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from rebalance.config import TextConfig
from tasks.core.columns import Columns
from tasks.core.conflicts import split_identities
from tasks.core.contract import NOT_EVALUATED, Checked, Evaluated, Ingested, Modality, Resampled
from tasks.core.files import file_sha256
from tasks.core.frames import write_parquet
from tasks.text.back_translation import directions, model_name
from tasks.text.ingest import read_texts
from tasks.text.paraphrase import text_identity
from tasks.text.rebalance import rebalance_texts, translation_cache
from tasks.text.translators import check_local_model
from validations.text import TextFindings, normalised_text_expr, validate_texts


class TextModality(Modality[TextConfig]):
    """Text classification data: one text column and a label in CSV, Parquet or JSONL."""

    def check_config(self, config: TextConfig, /) -> str | None:
        options = config.rebalance
        if options.method == "none":
            return None
        if options.method == "eda":
            return "eda"
        for src, tgt in directions(options.source_language, options.pivots):
            check_local_model(model_name(options.model, src=src, tgt=tgt))
        return f"back_translation via {', '.join(options.pivots)} ({options.model})"

    def written_folders(self, config: TextConfig, /) -> dict[str, Path]:
        if config.rebalance.method != "back_translation":
            return {}
        return {"rebalance.cache_dir": translation_cache(config)}

    def fingerprint_inputs(self, config: TextConfig, /) -> dict[str, Any] | None:
        inputs = super().fingerprint_inputs(config)
        models = _local_model_listing(config)
        if inputs is not None and models:
            inputs["local_models"] = models
        return inputs

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

    def validate(
        self, ingested: Ingested, config: TextConfig, output_dir: Path, /
    ) -> Checked[TextFindings]:
        return validate_texts(
            ingested.frame,
            columns=ingested.columns,
            null_policy=config.validation.null_policy,
            max_drop_fraction=config.validation.max_drop_fraction,
            bad_text_policy=config.validation.bad_text_policy,
            dataset=config.name,
            source=config.source,
            output_dir=output_dir,
            expectations=config.validation.declared_expectations(),
        )

    def split_keys(
        self, frame: pl.DataFrame, columns: Columns, config: TextConfig, /
    ) -> pl.Series | None:
        if not config.split.keep_duplicates_together:
            return None
        # Texts equal after case/whitespace normalisation land in one split.
        return frame.select(normalised_text_expr(columns.features[0])).to_series().hash(seed=0)

    def hash_keys(
        self, frame: pl.DataFrame, columns: Columns, config: TextConfig, /
    ) -> pl.DataFrame:
        # The id only when the user named one: `row_id` (the data row) moves when rows do.
        if config.id_column is not None and not config.split.keep_duplicates_together:
            return frame.select(columns.id_column)
        return frame.select(normalised_text_expr(columns.features[0]))

    def sample_identity(self, frame: pl.DataFrame, columns: Columns, /) -> pl.Series:
        return text_identity(frame, columns.features[0])

    def rebalance(
        self,
        train: pl.DataFrame,
        columns: Columns,
        config: TextConfig,
        run_dir: Path,
        /,
        *,
        evaluated: Evaluated = NOT_EVALUATED,
    ) -> Resampled:
        # Val and test are in the run folder: no paraphrase may repeat one of another class.
        holdout = split_identities(
            run_dir,
            identify=lambda frame: self.sample_identity(frame, columns),
            label=columns.label,
        )
        resampled = rebalance_texts(train, columns=columns, config=config, holdout=holdout)
        write_parquet(resampled.frame, run_dir / "train.parquet")
        return resampled


def _local_model_listing(config: TextConfig) -> list[list[Any]]:
    """(file, size, mtime) of translation models given as local folders (hub models are
    pinned by `revision`, which is in the config)."""
    options = config.rebalance
    names = {
        model_name(options.model, src=src, tgt=tgt)
        for src, tgt in directions(options.source_language, options.pivots)
    }
    listing = []
    for name in sorted(names):
        folder = Path(name).expanduser()
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                listing.append([str(path), stat.st_size, stat.st_mtime_ns])
    return listing


MODALITY = TextModality()

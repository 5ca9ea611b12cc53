"""The tabular modality: a table's rows are the samples, imbalanced-learn rebalances them."""

from __future__ import annotations

import importlib
from pathlib import Path

import polars as pl

from rebalance.config import TabularConfig
from tasks import samplers
from tasks.ingest import (
    Columns,
    check_numbers_stored_as_text,
    file_sha256,
    no_rows,
    read_table,
    scan_table,
    select_columns,
)
from tasks.modality import CheckedTable, Ingested, Resampled, row_count, write_parquet
from tasks.streaming import INGESTED_FILE, reading, resample_streaming, streams
from tasks.tabular import rebalance_table


class TabularModality:
    """Tables: CSV, Parquet, NDJSON or Arrow IPC files."""

    def preload(self) -> None:
        """Import imblearn and Great Expectations (the CLI does it while Prefect starts)."""
        from validations.null_check import preload_great_expectations

        for module_name in samplers.SAMPLER_MODULES:
            importlib.import_module(module_name)
        preload_great_expectations()

    def check_config(self, config: TabularConfig, /) -> str | None:
        return samplers.check_sampler_config(
            config.rebalance.sampler, config.rebalance.params, seed=config.split.seed
        )

    def ingest(self, config: TabularConfig, /) -> Ingested:
        if config.streaming.enabled:
            frame = scan_table(config.source, separator=config.separator)
        else:
            frame = read_table(config.source, separator=config.separator)
        with reading(config.source):
            rows_read = row_count(frame)
            if rows_read == 0:
                raise no_rows(config.source)
            frame, columns = select_columns(
                frame,
                label=config.label,
                features=config.features,
                id_column=config.id_column,
                group_column=config.split.group_column,
                source=config.source,
            )
            check_numbers_stored_as_text(frame, columns, config.source)
        return Ingested(
            frame=frame,
            columns=columns,
            source_sha256=file_sha256(config.source),
            rows_read=rows_read,
        )

    def validate(
        self, ingested: Ingested, config: TabularConfig, output_dir: Path, /
    ) -> CheckedTable:
        from validations.table_checks import validate_table, validate_table_batches

        if isinstance(ingested.frame, pl.LazyFrame):
            return validate_table_batches(
                ingested.frame,
                columns=ingested.columns,
                null_policy=config.validation.null_policy,
                dataset=config.name,
                output_dir=output_dir,
                batch_rows=config.streaming.batch_rows,
                source=config.source,
                scratch=output_dir.parent / INGESTED_FILE,
            )
        return validate_table(
            ingested.frame,
            columns=ingested.columns,
            null_policy=config.validation.null_policy,
            dataset=config.name,
            output_dir=output_dir,
        )

    def group_keys(
        self, frame: pl.DataFrame, columns: Columns, config: TabularConfig, /
    ) -> pl.Series | None:
        if columns.group_column is not None:
            return frame[columns.group_column]
        if config.split.keep_duplicates_together and columns.features:
            return frame.select(columns.features).hash_rows(seed=0)
        return None

    def write_holdout(
        self,
        frame: pl.DataFrame,
        split: str,
        columns: Columns,
        config: TabularConfig,
        run_dir: Path,
        /,
    ) -> None:
        write_parquet(frame, run_dir / f"{split}.parquet")

    def rebalance(
        self,
        train: pl.DataFrame | pl.LazyFrame,
        columns: Columns,
        config: TabularConfig,
        run_dir: Path,
        /,
    ) -> Resampled:
        if isinstance(train, pl.LazyFrame):
            if streams(config.rebalance.sampler, config.rebalance.params):
                return resample_streaming(
                    train,
                    columns=columns,
                    sampler=config.rebalance.sampler,
                    params=config.rebalance.params,
                    seed=config.split.seed,
                    output=run_dir / "train.parquet",
                )
            # A k-NN sampler needs the rows in memory; rebalance_table's guard refuses up
            # front when its matrices cannot fit.
            train = train.collect(engine="streaming")
        resampled = rebalance_table(
            train,
            columns=columns,
            sampler=config.rebalance.sampler,
            params=config.rebalance.params,
            seed=config.split.seed,
        )
        write_parquet(resampled.frame, run_dir / "train.parquet")
        return resampled


TABULAR = TabularModality()

"""The tabular modality: a table's rows are the samples, imbalanced-learn rebalances them."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import polars as pl

from rebalance.config import TabularConfig
from rebalance.config.tabular import AUTO, CLASS_WEIGHTS
from tasks.core.columns import Columns
from tasks.core.conflicts import split_identities
from tasks.core.contract import NOT_EVALUATED, Checked, Evaluated, Ingested, Modality, Resampled
from tasks.core.frames import INGESTED_FILE, write_parquet
from tasks.tabular import samplers
from tasks.tabular.arms import evaluate_table
from tasks.tabular.ingest import ingest_table
from tasks.tabular.resample import rebalance_table
from tasks.tabular.streaming import resample_streaming, streams
from validations.null_check import preload_great_expectations
from validations.tabular import validate_table, validate_table_batches


class TabularModality(Modality[TabularConfig]):
    """Tables: CSV, Parquet, NDJSON or Arrow IPC files."""

    def preload(self) -> None:
        """Import imblearn and Great Expectations (the CLI does it while Prefect starts)."""
        for module_name in samplers.SAMPLER_MODULES:
            importlib.import_module(module_name)
        preload_great_expectations()

    def check_config(self, config: TabularConfig, /) -> str | None:
        if config.rebalance.sampler == AUTO:
            for name in config.rebalance.candidates:
                if name != CLASS_WEIGHTS:
                    samplers.check_sampler_config(name, {}, seed=config.random_state)
            return f"{AUTO} (one of {', '.join(config.rebalance.candidates)})"
        name = samplers.check_sampler_config(
            config.rebalance.sampler, config.rebalance.params, seed=config.random_state
        )
        if name not in (None, "SMOTE"):  # SMOTE runs as SMOTENC or SMOTEN on them
            # Declared categorical columns are categorical whatever the data: refuse now.
            samplers.refuse_categorical(name, config.declared_categorical)
        return name

    def ingest(self, config: TabularConfig, /) -> Ingested:
        return ingest_table(config)

    def validate(self, ingested: Ingested, config: TabularConfig, output_dir: Path, /) -> Checked:
        if isinstance(ingested.frame, pl.LazyFrame):
            return validate_table_batches(
                ingested.frame,
                columns=ingested.columns,
                null_policy=config.validation.null_policy,
                max_drop_fraction=config.validation.max_drop_fraction,
                dataset=config.name,
                output_dir=output_dir,
                batch_rows=config.streaming.batch_rows,
                source=config.source,
                scratch=output_dir.parent / INGESTED_FILE,
                expectations=config.validation.declared_expectations(),
            )
        return validate_table(
            ingested.frame,
            columns=ingested.columns,
            null_policy=config.validation.null_policy,
            max_drop_fraction=config.validation.max_drop_fraction,
            dataset=config.name,
            output_dir=output_dir,
            expectations=config.validation.declared_expectations(),
        )

    def evaluate(
        self,
        train: pl.DataFrame | pl.LazyFrame,
        columns: Columns,
        config: TabularConfig,
        run_dir: Path,
        /,
    ) -> Evaluated:
        if not config.evaluate.enabled:
            return NOT_EVALUATED
        return evaluate_table(train, columns=columns, config=config, run_dir=run_dir)

    def rebalance(
        self,
        train: pl.DataFrame | pl.LazyFrame,
        columns: Columns,
        config: TabularConfig,
        run_dir: Path,
        /,
        *,
        evaluated: Evaluated = NOT_EVALUATED,
    ) -> Resampled:
        sampler, params = config.rebalance.sampler, config.rebalance.params
        if sampler == AUTO:
            # The evaluate step picked a candidate; it runs with its default parameters.
            picked = evaluated.picked or CLASS_WEIGHTS
            sampler = samplers.NO_SAMPLER if picked == CLASS_WEIGHTS else picked
            params = {}
        resampled = self._resample(train, columns, config, run_dir, sampler, params)
        return dataclasses.replace(resampled, requested=config.rebalance.sampler)

    def _resample(self, train, columns, config, run_dir, sampler, params) -> Resampled:
        # Val and test are in the run folder: no synthetic row may contradict one of them.
        # Without a sampler no row is made, so their identities are not read.
        holdout = None
        if sampler != samplers.NO_SAMPLER:
            holdout = split_identities(
                run_dir,
                identify=lambda frame: self.sample_identity(frame, columns),
                label=columns.label,
                batch_rows=config.streaming.batch_rows,
            )
        if isinstance(train, pl.LazyFrame):
            if streams(sampler, params):
                return resample_streaming(
                    train,
                    columns=columns,
                    sampler=sampler,
                    params=params,
                    seed=config.random_state,
                    output=run_dir / "train.parquet",
                    holdout=holdout,
                    batch_rows=config.streaming.batch_rows,
                )
            # A k-NN sampler needs the rows in memory; rebalance_table's guard refuses up
            # front when its matrices cannot fit.
            train = train.collect(engine="streaming")
        resampled = rebalance_table(
            train,
            columns=columns,
            sampler=sampler,
            params=params,
            seed=config.random_state,
            holdout=holdout,
        )
        write_parquet(resampled.frame, run_dir / "train.parquet")
        return resampled


MODALITY = TabularModality()

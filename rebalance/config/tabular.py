"""The config of a table's run: the columns to use, the sampler, and streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from rebalance.config.common import CommonConfig, RebalanceSection, Section, check_named_columns
from rebalance.config.samplers import NO_SAMPLER, SAMPLER_NAMES, canonical_sampler, check_params


class RebalanceConfig(RebalanceSection):
    """How the training split is rebalanced."""

    sampler: str = Field(
        "SMOTE",
        description="An imbalanced-learn sampler class name (in any case) or `none` (no "
        "rebalancing). SMOTE on mixed numeric and categorical columns runs SMOTENC, on "
        "categorical columns only SMOTEN.",
        # The UI form offers the names; the validator also takes them in any case.
        json_schema_extra={"enum": [*SAMPLER_NAMES, NO_SAMPLER]},
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments for the sampler, in imbalanced-learn's own names "
        "(`sampling_strategy`, `k_neighbors`, ...), checked with scikit-learn's own parameter "
        "validation when the config loads. Its `random_state` is `rebalance.random_state`.",
    )

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, sampler: str) -> str:
        return canonical_sampler(sampler)

    @field_validator("params")
    @classmethod
    def _params_the_sampler_accepts(
        cls, params: dict[str, Any], info: ValidationInfo
    ) -> dict[str, Any]:
        if "sampler" in info.data:  # else the sampler's own error says what is wrong
            check_params(info.data["sampler"], params)
        return params


class StreamingConfig(Section):
    """Tables larger than memory: read, check and split them a batch of rows at a time."""

    enabled: bool = Field(
        False,
        description="Stream the table with polars: ingest, the null check (Great Expectations, "
        "one batch at a time), the class counts and the split never hold the whole table; "
        "RandomUnderSampler and RandomOverSampler stream too. Other samplers get the "
        "training split in memory (refused up front when it cannot fit).",
    )
    batch_rows: int = Field(
        250_000, gt=0, description="Rows per batch read, checked and hashed at once."
    )


class TabularConfig(CommonConfig):
    """One table's run: where the data is, how to check, split and rebalance it."""

    modality: Literal["tabular"] = Field("tabular", description="Kind of data in `source`.")
    source: Path = Field(
        ..., description="CSV/TSV, Parquet, NDJSON/JSONL or Arrow IPC file with the data."
    )
    id_column: str | None = Field(
        None,
        description="Row id column: kept in the outputs (null on synthetic rows), never used "
        "as a feature.",
    )
    features: list[str] | None = Field(
        None, description="Feature columns to keep; all other columns when left empty."
    )
    separator: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="CSV field separator; `,` (a tab for .tsv files) when left empty. A file "
        "that reads as one column named like `a;b;c` is refused with the separator to set.",
    )
    rebalance: RebalanceConfig = Field(default_factory=RebalanceConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)

    @model_validator(mode="after")
    def _columns_exist(self) -> TabularConfig:
        check_named_columns(
            self.source,
            {
                "label": self.label,
                "id_column": self.id_column,
                "group_column": self.split.group_column,
                "features": self.features,
            },
            separator=self.separator,
        )
        return self

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
    categorical_columns: list[str] = Field(
        default_factory=list,
        description="Feature columns that are categorical whatever their dtype: integer codes "
        "such as a 0/1 `sex` or suits 1-4 (string, categorical and boolean columns always "
        "are). SMOTE runs SMOTENC on them (SMOTEN when every feature is categorical), so "
        "synthetic rows only get values seen in training, in the column's own dtype; "
        "distance-based samplers see them one-hot encoded; samplers that generate numeric "
        "values refuse them. Names in `rebalance.params.categorical_features` (SMOTENC) "
        "declare columns too; given both, they must name the same columns.",
    )
    ignored_columns: list[str] = Field(
        default_factory=list,
        description="Columns left out of the run (not features, not in the outputs): id-like "
        "or leaky columns, when `features` is empty. Not the label, `id_column` or "
        "`split.group_column`.",
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

    @property
    def declared_categorical(self) -> list[str]:
        """The features declared categorical: `categorical_columns`, else the column names in
        `rebalance.params.categorical_features` (positions or masks declare nothing)."""
        return self.categorical_columns or _names_in(
            self.rebalance.params.get("categorical_features")
        )

    @model_validator(mode="after")
    def _column_roles(self) -> TabularConfig:
        roles = {
            self.label: "the label",
            self.id_column: "`id_column`",
            self.split.group_column: "`split.group_column`",
        }
        roles.pop(None, None)
        for name in self.ignored_columns:
            if name in roles:
                msg = (
                    f"ignored_columns names '{name}', which is {roles[name]}: a run cannot "
                    "leave it out; remove it from `ignored_columns`"
                )
                raise ValueError(msg)
            if self.features is not None and name in self.features:
                msg = (
                    f"'{name}' is in both `features` and `ignored_columns`; remove it from "
                    "one of them"
                )
                raise ValueError(msg)
        from_params = _names_in(self.rebalance.params.get("categorical_features"))
        for key, names in (
            ("categorical_columns", self.categorical_columns),
            ("rebalance.params.categorical_features", from_params),
        ):
            for name in names:
                why = roles.get(name)
                if why is None and name in self.ignored_columns:
                    why = "in `ignored_columns`"
                if why is None and self.features is not None and name not in self.features:
                    why = "not in `features`"
                if why is not None:
                    msg = (
                        f"{key} names '{name}', which is {why}: it lists feature columns "
                        f"only; remove '{name}' from `{key}`"
                    )
                    raise ValueError(msg)
        both = self.categorical_columns and from_params
        if both and set(self.categorical_columns) != set(from_params):
            msg = (
                f"categorical_columns {self.categorical_columns} and "
                f"rebalance.params.categorical_features {from_params} name different "
                "columns; give the categorical columns in one of them only"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _columns_exist(self) -> TabularConfig:
        check_named_columns(
            self.source,
            {
                "label": self.label,
                "id_column": self.id_column,
                "group_column": self.split.group_column,
                "features": self.features,
                "ignored_columns": self.ignored_columns,
                "categorical_columns": self.categorical_columns,
                "rebalance.params.categorical_features": _names_in(
                    self.rebalance.params.get("categorical_features")
                ),
            },
            separator=self.separator,
        )
        return self


def _names_in(categorical_features: Any) -> list[str]:
    """Column names in SMOTENC's `categorical_features`; none for positions, masks or "auto"."""
    if isinstance(categorical_features, list | tuple) and all(
        isinstance(name, str) for name in categorical_features
    ):
        return list(categorical_features)
    return []

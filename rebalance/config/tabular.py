"""The config of a table's run: the columns to use, the sampler, and streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from rebalance.config.common import CommonConfig, RebalanceSection, Section, check_named_columns
from rebalance.config.samplers import NO_SAMPLER, SAMPLER_NAMES, canonical_sampler, check_params

# `rebalance.sampler: auto` picks one of `rebalance.candidates` by the cross-validated score.
AUTO = "auto"
# The candidate that resamples nothing and leaves the balancing to class weights.
CLASS_WEIGHTS = "class_weights"
EVALUATION_MODELS = ("logistic_regression", "gradient_boosting")
EVALUATION_METRICS = ("balanced_accuracy", "average_precision", "minority_recall", "macro_f1")


class RebalanceConfig(RebalanceSection):
    """How the training split is rebalanced."""

    sampler: str = Field(
        "SMOTE",
        description="An imbalanced-learn sampler class name (in any case), `none` (no "
        "rebalancing) or `auto` (the best of `candidates` by the cross-validated score of "
        "`evaluate`). SMOTE on mixed numeric and categorical columns runs SMOTENC, on "
        "categorical columns only SMOTEN.",
        # The UI form offers the names; the validator also takes them in any case.
        json_schema_extra={"enum": [*SAMPLER_NAMES, NO_SAMPLER, AUTO]},
    )
    candidates: list[str] = Field(
        default_factory=lambda: [CLASS_WEIGHTS, "RandomOverSampler", "SMOTE", "SMOTETomek"],
        min_length=1,
        description="With `sampler: auto`: what to choose from, simplest first. "
        f"`{CLASS_WEIGHTS}` resamples nothing (the training job uses class_weights.json); "
        "the others are sampler names, run with their default parameters. The simplest "
        "candidate wins unless another beats it by more than its spread.",
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
        return AUTO if sampler.lower() == AUTO else canonical_sampler(sampler)

    @field_validator("candidates")
    @classmethod
    def _known_candidates(cls, candidates: list[str]) -> list[str]:
        names = []
        for candidate in candidates:
            if candidate.lower() == CLASS_WEIGHTS:
                names.append(CLASS_WEIGHTS)
                continue
            try:
                name = canonical_sampler(candidate)
            except ValueError as exc:
                msg = f"{exc} (or '{CLASS_WEIGHTS}': no resampling, class weights)"
                raise ValueError(msg) from None
            if name == NO_SAMPLER:
                msg = (
                    f"'{NO_SAMPLER}' is always evaluated, as the baseline; "
                    f"for no resampling with class weights list '{CLASS_WEIGHTS}'"
                )
                raise ValueError(msg)
            names.append(name)
        if len(set(names)) < len(names):
            msg = f"lists a name twice: {candidates}"
            raise ValueError(msg)
        return names

    @field_validator("params")
    @classmethod
    def _params_the_sampler_accepts(
        cls, params: dict[str, Any], info: ValidationInfo
    ) -> dict[str, Any]:
        sampler = info.data.get("sampler")
        if sampler == AUTO and params:
            msg = (
                "rebalance.params is set but rebalance.sampler is 'auto', whose candidates run "
                "with their default parameters; remove params or name one sampler"
            )
            raise ValueError(msg)
        if sampler is not None and sampler != AUTO:  # else the sampler's own error says it
            check_params(sampler, params)
        return params


class EvaluateConfig(Section):
    """The cross-validated evidence: does the sampler help a model trained on its output?"""

    enabled: bool = Field(
        True,
        description="Compare, on the training split's original rows only, no resampling, "
        "class weights and the sampler, by repeated stratified cross-validation with the "
        "resampling inside the training folds; the report gives each metric as mean ± spread "
        "and a verdict per arm. Val and test are never used.",
    )
    time_budget_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds the comparison may take: larger tables are subsampled "
        "(stratified) and repeats cut to fit, and the report says so.",
    )
    n_splits: int = Field(
        5, ge=2, description="Folds per repeat; lowered to the smallest class's row count."
    )
    n_repeats: int = Field(3, ge=1, description="Repeats of the k-fold split, each reshuffled.")
    max_rows: int = Field(
        20_000,
        ge=100,
        description="Training rows the comparison uses at most (a stratified sample above it).",
    )
    models: list[Literal["logistic_regression", "gradient_boosting"]] = Field(
        default_factory=lambda: list(EVALUATION_MODELS),
        min_length=1,
        description="Models trained on each arm: scikit-learn's LogisticRegression and "
        "HistGradientBoostingClassifier, categorical columns one-hot encoded.",
    )
    metric: Literal["balanced_accuracy", "average_precision", "minority_recall", "macro_f1"] = (
        Field(
            "balanced_accuracy",
            description="What `rebalance.sampler: auto` picks by (mean over the models).",
        )
    )


class StreamingConfig(Section):
    """Tables larger than memory: read, check and split them a batch of rows at a time."""

    enabled: bool = Field(
        False,
        description="Stream the table with polars: ingest, the null check (Great Expectations, "
        "one batch at a time), the class counts and the split never hold the whole table; "
        "RandomUnderSampler and RandomOverSampler stream too, and SMOTE, SMOTENC and SMOTEN "
        "hold only the rows of the classes they oversample. Other samplers get the "
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
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
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
    def _auto_needs_the_evaluation(self) -> TabularConfig:
        if self.rebalance.sampler == AUTO and not self.evaluate.enabled:
            msg = (
                "rebalance.sampler 'auto' picks by the cross-validated evaluation, which "
                "evaluate.enabled: false turns off; enable it or name one sampler"
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

"""The config of a text run: the text column, the bad-text policy and the paraphrasing."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ByteSize, Field, model_validator

from rebalance.config.common import (
    ClassTarget,
    CommonConfig,
    RebalanceSection,
    ValidationConfig,
    check_named_columns,
)


class TextValidationConfig(ValidationConfig):
    """Nulls, plus texts that cannot be used: empty or whitespace-only, not strings, bad bytes."""

    bad_text_policy: Literal["fail", "drop"] = Field(
        "fail",
        description="`fail` stops the run and names each bad row (empty or whitespace-only "
        "text, a non-string value, undecodable bytes); `drop` removes them and counts them "
        "in the report.",
    )


class TextRebalanceConfig(RebalanceSection):
    """How minority-class training texts are paraphrased."""

    method: Literal["back_translation", "eda", "none"] = Field(
        "back_translation",
        description="`back_translation` (source → pivot → source with MarianMT), `eda` (random "
        "swap / deletion / insertion of in-corpus words: the model-free, offline method) or "
        "`none`.",
    )
    fallback: Literal["eda"] | None = Field(
        None,
        description="Method used when a hub model cannot be loaded (offline, not in the cache), "
        "labelled as such in the report; without one, that is an error saying which model "
        "and how to provide it. A local model folder that is missing or refused is always "
        "an error.",
    )
    target: ClassTarget = Field(
        "majority",
        description="Training texts per class after rebalancing: `majority` (every class up to "
        "the largest), a number (every smaller class up to it), or a {class: count} mapping; "
        "classes are never reduced.",
    )
    source_language: str = Field(
        "en", description="Language code of the texts (`{src}` in `model`)."
    )
    pivots: list[str] = Field(
        default_factory=lambda: ["de"],
        min_length=1,
        description="Pivot languages; several give more varied paraphrases.",
    )
    model: str = Field(
        "Helsinki-NLP/opus-mt-{src}-{tgt}",
        description="Template naming each direction's model (`{src}`, `{tgt}`): a Hugging Face "
        "hub name or a local folder (`/models/opus-mt-{src}-{tgt}`; `./` and `../` resolve "
        "against the config's folder), loaded with `from_pretrained` (safetensors only, no "
        "remote code). A folder must hold a MarianMT model (`model_type: marian`, no "
        "`auto_map`), checked before any data is read.",
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    local_files_only: bool = Field(
        False,
        description="Load models only from a local folder or the Hugging Face cache, never "
        "the network: set it for offline nightly runs. Without it, the cache alone is used "
        "too when `HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` is set or the hub does not "
        "answer a 2 s connect.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="`auto`: CUDA (fp16) if available, else CPU."
    )
    num_threads: int | None = Field(
        None, ge=1, description="CPU threads for torch; torch's default when empty."
    )
    batch_size: int = Field(
        128, ge=1, description="Most texts per generate call (batches are length-sorted)."
    )
    max_batch_tokens: int = Field(
        4096,
        ge=1,
        description="Most input tokens per generate call, counting padding: short texts "
        "go in large batches, long ones in small (a longer text goes alone).",
    )
    max_new_tokens: int = Field(256, ge=1, description="Most tokens generated per text.")
    num_beams: int = Field(1, ge=1, description="Beams of beam search (1: none).")
    do_sample: bool = Field(
        True, description="Sample instead of greedy/beam decoding: more varied paraphrases."
    )
    top_p: float = Field(0.9, gt=0, le=1, description="Nucleus sampling mass (with do_sample).")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature (with do_sample).")
    samples_per_pivot: int = Field(
        3,
        ge=1,
        description="Sampled decodes tried per text and pivot when a class needs more "
        "paraphrases than it has texts (with do_sample).",
    )
    min_length_ratio: float = Field(
        0.5, ge=0, description="Quality gate: shortest paraphrase, as a share of its source."
    )
    max_length_ratio: float = Field(
        2.0, gt=0, description="Quality gate: longest paraphrase, as a multiple of its source."
    )
    alpha: float = Field(
        0.1, gt=0, le=1, description="eda: share of a text's words changed per paraphrase."
    )
    cache_dir: Path | None = Field(
        None,
        description="Translation cache folder, kept across runs and keyed by text hash, model "
        "revision and decoding options; `<output>/.translation-cache` when empty. Runs "
        "sharing it take turns writing (a POSIX file lock, `.lock`).",
    )
    cache_max_bytes: ByteSize | None = Field(
        None,
        gt=0,
        description="Size bound of the translation cache's entries: a run that leaves them "
        "larger evicts the least recently used translations (across models and decoding "
        "options), down to 90% of it. Empty: the cache only grows.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TextRebalanceConfig:
        if self.min_length_ratio >= self.max_length_ratio:
            msg = (
                f"min_length_ratio ({self.min_length_ratio}) must be below max_length_ratio "
                f"({self.max_length_ratio})"
            )
            raise ValueError(msg)
        if "{tgt}" not in self.model:
            msg = f"model {self.model!r} must contain {{tgt}} (and usually {{src}})"
            raise ValueError(msg)
        try:
            self.model.format(src=self.source_language, tgt=self.pivots[0])
        except (KeyError, IndexError, ValueError) as exc:
            msg = (
                f"model {self.model!r} is not a valid template ({exc}); use {{src}} and "
                "{tgt}, e.g. Helsinki-NLP/opus-mt-{src}-{tgt}"
            )
            raise ValueError(msg) from None
        if self.source_language in self.pivots:
            msg = f"pivots {self.pivots} must not include the source language"
            raise ValueError(msg)
        return self


class TextConfig(CommonConfig):
    """A text classification dataset: one text column and a label."""

    modality: Literal["text"] = Field(..., description="Kind of data in `source`.")
    source: Path = Field(..., description="CSV, Parquet or NDJSON/JSONL file with the texts.")
    text_column: str = Field(
        "text", description="Column holding the texts (CSV, Parquet or JSONL)."
    )
    id_column: str | None = Field(
        None,
        description="Unique row id column, cited by each paraphrase in `source_row_id`; the "
        "row's position in the file when left empty.",
    )
    validation: TextValidationConfig = Field(default_factory=TextValidationConfig)
    rebalance: TextRebalanceConfig = Field(default_factory=TextRebalanceConfig)

    @model_validator(mode="after")
    def _supported(self) -> TextConfig:
        if self.split.group_column is not None:
            msg = (
                "split.group_column is not supported for text yet (duplicate texts are kept "
                "together already); remove it"
            )
            raise ValueError(msg)
        check_named_columns(
            self.source,
            {"text_column": self.text_column, "label": self.label, "id_column": self.id_column},
        )
        return self

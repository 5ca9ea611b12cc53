"""The run config: one frozen pydantic model, read from YAML, also the flow's parameter type.

Every section forbids unknown keys, so a typo (`rebalance.samplr`) is an error that names the key
instead of a setting that silently does nothing.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from rebalance.errors import ConfigError

SPLITS = ("train", "val", "test")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValidationConfig(_Section):
    """What to do with bad rows found before splitting."""

    null_policy: Literal["fail", "drop"] = Field(
        "fail",
        description="`fail` stops the run and names each column with nulls; `drop` removes rows "
        "with a null (or NaN) in a used column and counts them in the report.",
    )


class SplitConfig(_Section):
    """The stratified train/val/test split."""

    fractions: dict[Literal["train", "val", "test"], float] = Field(
        default_factory=lambda: {"train": 0.7, "val": 0.15, "test": 0.15},
        description="Share of rows per split; all three splits, each above 0, summing to 1.",
    )
    seed: int = Field(42, description="Seed of the split (and of the sampler's random_state).")
    group_column: str | None = Field(
        None, description="Rows sharing a value of this column land in one split."
    )
    keep_duplicates_together: bool = Field(
        True,
        description="Rows with identical feature values land in one split, so no sample leaks "
        "from train into val/test under another id.",
    )

    @field_validator("fractions")
    @classmethod
    def _fractions_cover_splits(cls, fractions: dict[str, float]) -> dict[str, float]:
        missing = [name for name in SPLITS if name not in fractions]
        if missing:
            msg = f"split.fractions needs train, val and test; missing {', '.join(missing)}"
            raise ValueError(msg)
        if any(not 0 < value < 1 for value in fractions.values()):
            msg = f"split.fractions must each be between 0 and 1, got {dict(fractions)}"
            raise ValueError(msg)
        total = sum(fractions.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            msg = f"split.fractions must sum to 1, got {total:g} from {dict(fractions)}"
            raise ValueError(msg)
        return {name: fractions[name] for name in SPLITS}


class RebalanceConfig(_Section):
    """How the training split is rebalanced."""

    sampler: str = Field(
        "SMOTE",
        description="An imbalanced-learn sampler class name (SMOTE, RandomOverSampler, "
        "TomekLinks, SMOTEENN, ...) or `none`. SMOTE on categorical columns runs SMOTENC "
        "or SMOTEN.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments for the sampler, in imbalanced-learn's own names "
        "(sampling_strategy, k_neighbors, ...). random_state comes from split.seed.",
    )


class ClassWeightsConfig(_Section):
    """Class weights computed from the training split before resampling."""

    beta: float = Field(
        0.999, ge=0, lt=1, description="Beta of the effective-number weights (Cui et al. 2019)."
    )


class RunnerConfig(_Section):
    """Where the parallel work of a run (image augmentation, translation shards) runs."""

    kind: Literal["threads", "dask"] = Field(
        "threads",
        description="`threads`: a thread pool in the flow's process (the GIL limits it to about "
        "one core for image shards; translation stays in the flow's process). `dask`: Dask "
        "worker processes through prefect-dask, a local cluster of `workers` processes, or the "
        "cluster at `address`.",
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="Threads, or local Dask worker processes (one thread each); the machine's "
        "CPU count when empty. Not used with `address`.",
    )
    address: str | None = Field(
        None,
        min_length=1,
        description="Scheduler address of a running Dask cluster (`tcp://host:8786`), with "
        "kind `dask`; a temporary local cluster when empty.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RunnerConfig:
        if self.address is not None and self.kind != "dask":
            msg = (
                f"runner.address {self.address!r} needs runner.kind: dask (threads run in the "
                "flow's own process)"
            )
            raise ValueError(msg)
        if self.address is not None and self.workers is not None:
            msg = (
                "runner.workers sizes a local cluster; the cluster at runner.address has its "
                "own workers: remove one of them"
            )
            raise ValueError(msg)
        if self.address is not None and "://" not in self.address:
            msg = (
                f"runner.address {self.address!r} must be a Dask scheduler address like "
                "tcp://host:8786"
            )
            raise ValueError(msg)
        return self


class StreamingConfig(_Section):
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


class CommonConfig(_Section):
    """What every modality's run has: a name, a source, a label, the split and the output."""

    name: str = Field(
        ...,
        pattern=NAME_PATTERN.pattern,
        max_length=100,
        description="Dataset name: the output folder and the Prefect artifact key.",
    )
    source: Path = Field(..., description="The data: a file, or a folder for images.")
    label: str = Field(..., description="Label column.")
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    class_weights: ClassWeightsConfig = Field(default_factory=ClassWeightsConfig)
    retries: int = Field(2, ge=0, description="Retries of each step after a transient failure.")
    retry_delay_seconds: float = Field(2.0, ge=0, description="Delay before each retry.")
    output: Path = Field(Path("outputs"), description="Root folder of all run folders.")
    runner: RunnerConfig = Field(default_factory=RunnerConfig)

    @field_validator("name", mode="before")
    @classmethod
    def _name_is_one_folder(cls, name: Any) -> Any:
        # One message with the fix, instead of pydantic's bare pattern: the name is a folder
        # under `output`, so `../x`, `a/b` or `.hidden` would write elsewhere or hide it.
        if isinstance(name, str) and not NAME_PATTERN.fullmatch(name):
            msg = (
                f"{name!r} cannot be the dataset's folder name <output>/<name>: use letters, "
                "digits, '.', '_' and '-' only, starting with a letter or digit (so no '/' "
                "and no leading '.')"
            )
            raise ValueError(msg)
        return name

    @property
    def dataset_dir(self) -> Path:
        """`<output>/<name>`: holds one folder per run and the `latest` link."""
        return self.output / self.name


class TabularConfig(CommonConfig):
    """One table's run: where the data is, how to check, split and rebalance it."""

    modality: Literal["tabular"] = Field("tabular", description="Kind of data in `source`.")
    source: Path = Field(
        ..., description="CSV, Parquet, NDJSON/JSONL or Arrow IPC file with the data."
    )
    id_column: str | None = Field(
        None, description="Row id column: kept in the outputs, never used as a feature."
    )
    features: list[str] | None = Field(
        None, description="Feature columns to keep; all other columns when left empty."
    )
    separator: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="CSV field separator; `,` (a tab for .tsv files) when left empty.",
    )
    rebalance: RebalanceConfig = Field(default_factory=RebalanceConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)


# ---- image modality ---------------------------------------------------------------------------


class ImageValidationConfig(ValidationConfig):
    """Checks of an image dataset: the null check of the index plus decoding every file."""

    bad_files: Literal["fail", "skip"] = Field(
        "fail",
        description="Files that cannot be used (corrupt, zero bytes, not an image, above "
        "`max_pixels`, missing): `fail` stops the run and lists them; `skip` leaves them out "
        "and lists them in the report and manifest.",
    )
    max_pixels: int = Field(
        89_478_485,
        gt=0,
        description="Largest width × height accepted (decompression-bomb guard; Pillow itself "
        "refuses images above 178,956,970 pixels).",
    )


class ImageRebalanceConfig(_Section):
    """How minority classes of the training split are filled up with augmented copies."""

    augmentations: list[str | dict[str, dict[str, Any] | None]] | Path | None = Field(
        None,
        description="albumentations transforms by class name with their own parameters "
        "(`- HorizontalFlip: {p: 0.5}`), or the path of a pipeline saved by "
        "`albumentations.save` (.yaml/.json). Empty: the default pipeline (scale, crop/pad, "
        "rotate, horizontal flip, brightness, contrast, saturation).",
    )
    target: Literal["majority"] | int | dict[str, int] = Field(
        "majority",
        description="Training images per class after rebalancing: `majority` (the largest "
        "class's count), one number for every class, or a number per class name.",
    )
    undersample: bool = Field(
        False,
        description="Drop random (seeded) training originals of classes above the target.",
    )
    format: Literal["source", "png", "jpeg", "webp", "bmp", "tiff"] = Field(
        "source", description="File format of generated images; `source`: the source's."
    )
    shard_size: int = Field(
        256, gt=0, description="Generated images per Prefect task (the unit of parallelism)."
    )

    @field_validator("target", mode="before")
    @classmethod
    def _target_form(cls, target: Any) -> Any:
        # One message for the three accepted forms, instead of one per member of the union.
        counts = target.values() if isinstance(target, dict) else [target]
        if target == "majority" or all(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
            for value in counts
        ):
            return (
                {str(name): value for name, value in target.items()}
                if isinstance(target, dict)
                else target
            )
        msg = (
            f"must be 'majority', a count of at least 1, or a mapping of class to count, "
            f"got {target!r}"
        )
        raise ValueError(msg)


class ImageConfig(CommonConfig):
    """An image dataset's run: an ImageFolder tree or a table of `path,label`."""

    modality: Literal["image"] = Field(..., description="Kind of data in `source`.")
    source: Path = Field(
        ...,
        description="A folder with one subfolder of images per class, or a CSV/Parquet table "
        "of image paths (relative to the table's folder) and labels.",
    )
    label: str = Field("label", description="Label column of the index (and of a table).")
    path_column: str = Field("path", description="Image path column of a source table.")
    validation: ImageValidationConfig = Field(default_factory=ImageValidationConfig)
    rebalance: ImageRebalanceConfig = Field(default_factory=ImageRebalanceConfig)


# --- text modality (issue 4) -------------------------------------------------------------


class TextValidationConfig(ValidationConfig):
    """Nulls, plus texts that cannot be used: empty or whitespace-only, not strings, bad bytes."""

    bad_text_policy: Literal["fail", "drop"] = Field(
        "fail",
        description="`fail` stops the run and names each bad row (empty or whitespace-only "
        "text, a non-string value, undecodable bytes); `drop` removes them and counts them "
        "in the report.",
    )


class TextRebalanceConfig(_Section):
    """How minority-class training texts are paraphrased."""

    method: Literal["back_translation", "eda", "none"] = Field(
        "back_translation",
        description="`back_translation` (source → pivot → source with MarianMT), `eda` (random "
        "swap / deletion / insertion of in-corpus words: the model-free, offline method) or "
        "`none`.",
    )
    fallback: Literal["eda"] | None = Field(
        None,
        description="Method used when no translation model can be loaded; without one, that "
        "is an error saying which model and how to provide it.",
    )
    target: Literal["majority"] | int | dict[str, int] = Field(
        "majority",
        description="Training texts per class after rebalancing: `majority` (every class up to "
        "the largest), a number (every smaller class up to it), or a {class: count} mapping.",
    )
    source_language: str = Field("en", description="Language code of the texts.")
    pivots: list[str] = Field(
        default_factory=lambda: ["de"],
        min_length=1,
        description="Pivot languages; several give more varied paraphrases.",
    )
    model: str = Field(
        "Helsinki-NLP/opus-mt-{src}-{tgt}",
        description="Template naming each direction's model: a Hugging Face hub name or a "
        "local folder (e.g. /models/opus-mt-{src}-{tgt}), loaded with from_pretrained.",
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    local_files_only: bool = Field(
        False,
        description="Load models only from a local folder or the Hugging Face cache, never "
        "the network.",
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
        description="Translation cache folder, kept across runs; `<output>/.translation-cache` "
        "when empty.",
    )

    @field_validator("target")
    @classmethod
    def _positive_target(cls, target: object) -> object:
        counts = target.values() if isinstance(target, dict) else [target]
        if any(isinstance(count, int) and count < 1 for count in counts):
            msg = f"rebalance.target counts must be at least 1, got {target!r}"
            raise ValueError(msg)
        return target

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
        if self.source_language in self.pivots:
            msg = f"pivots {self.pivots} must not include the source language"
            raise ValueError(msg)
        return self


class TextConfig(CommonConfig):
    """A text classification dataset: one text column and a label."""

    modality: Literal["text"] = Field(..., description="Kind of data in `source`.")
    source: Path = Field(..., description="CSV, Parquet or NDJSON/JSONL file with the texts.")
    text_column: str = Field("text", description="Column holding the texts.")
    id_column: str | None = Field(
        None, description="Row id column; the row's position in the file when left empty."
    )
    validation: TextValidationConfig = Field(default_factory=TextValidationConfig)
    rebalance: TextRebalanceConfig = Field(default_factory=TextRebalanceConfig)


def _modality_of(value: Any) -> str:
    # A config without `modality` is tabular (the first modality, so old configs still work).
    if isinstance(value, dict):
        return value.get("modality", "tabular")
    return getattr(value, "modality", "tabular")


MODALITIES = ("tabular", "image", "text")

# The flow's parameter type: one config model per modality, chosen by `modality`.
RunConfig = Annotated[
    Annotated[TabularConfig, Tag("tabular")]
    | Annotated[ImageConfig, Tag("image")]
    | Annotated[TextConfig, Tag("text")],
    Discriminator(_modality_of),
]
_RUN_CONFIG = TypeAdapter(RunConfig)


def load_config(path: Path | str, /, *, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a YAML config, apply `key.path=value` overrides and validate it.

    Relative paths (`source`, `output`, an augmentations file, a `./` or `../` model folder)
    resolve against the config file's folder, so a config works the same from any working
    directory (a Prefect worker's included).

    Raises:
        ConfigError: the file is missing or not YAML, an override is malformed, or the
            config does not validate; the message names the file and the key.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"config file not found: {path}; pass the path of a YAML config"
        raise ConfigError(msg) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        msg = f"{path} is not valid YAML ({first_line}); fix the syntax"
        raise ConfigError(msg) from None
    if not isinstance(raw, dict):
        msg = f"{path} must hold a mapping of keys (name, source, label, ...)"
        raise ConfigError(msg)
    for override in overrides:
        _apply_override(raw, override)
    base = path.resolve().parent
    raw.setdefault("output", "outputs")
    for key in ("source", "output"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = os.path.normpath(base / raw[key])
    rebalance = raw.get("rebalance")
    if isinstance(rebalance, dict) and isinstance(rebalance.get("augmentations"), str):
        # An image run's saved albumentations pipeline, like `source`, is relative to the config.
        rebalance["augmentations"] = os.path.normpath(base / rebalance["augmentations"])
    if isinstance(rebalance, dict) and str(rebalance.get("model", "")).startswith(("./", "../")):
        # A text run's local model folder too (a hub name such as Helsinki-NLP/... is not a path).
        rebalance["model"] = os.path.normpath(base / rebalance["model"])
    return parse_config(raw, origin=str(path))


def parse_config(raw: dict[str, Any], /, *, origin: str = "config") -> RunConfig:
    """Validate a config mapping; errors become one ConfigError line naming each key."""
    try:
        return _RUN_CONFIG.validate_python(raw)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line: `key: problem; key: problem`."""
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        if loc and loc[0] in MODALITIES:  # the union's tag: not a key the user wrote
            loc = loc[1:]
        key = ".".join(str(part) for part in loc) or "config"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}' (remove it or check its spelling)")
        elif error["type"] == "union_tag_invalid":
            problems.append(
                f"'modality': {error['ctx']['tag']!r} is not one of {', '.join(MODALITIES)}"
            )
        elif error["type"] == "missing":
            problems.append(f"missing key '{key}'")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"'{key}': {message}")
    return "; ".join(problems)


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key_path, sep, text = override.partition("=")
    if not sep or not key_path.strip():
        msg = f"--set {override!r} must look like key.path=value (e.g. split.seed=7)"
        raise ConfigError(msg)
    *parents, leaf = key_path.strip().split(".")
    node = raw
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            msg = f"--set {override!r}: '{part}' is not a section of the config"
            raise ConfigError(msg)
        node = child
    # YAML parsing gives `--set split.seed=7` an int and `--set features=[a, b]` a list.
    node[leaf] = yaml.safe_load(text) if text.strip() else None

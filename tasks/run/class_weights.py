"""Class weights for the training job: from the training split before rebalancing, and from
train.parquet as published.

A job that trains on the rebalanced rows and also applies weights of the split before
rebalancing corrects the imbalance twice; so every run writes both sets, each saying which rows
it is for. The as-published set is near 1 where rebalancing reached balance and above 1 for a
class that fell short (too few usable augmentations or paraphrases), making up for the gap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rebalance.errors import SamplerError

CLASS_WEIGHTS_FILE = "class_weights.json"
SCHEMES = ("balanced", "effective_number")
NORMALISATION = {
    "balanced": "n_samples / (n_classes * count); count-weighted mean is 1",
    "effective_number": "(1 - beta) / (1 - beta**count), scaled to sum to n_classes",
}
NOTE = (
    "Use one correction, not both: train on train.parquet as published with the as_published "
    "weights (or none), or on the original rows with the before_rebalancing weights; the "
    "before_rebalancing weights on the rebalanced rows correct the imbalance twice."
)
BEFORE_REBALANCING = {
    "computed_from": "training split before rebalancing",
    "use_for": (
        "A job that trains on the original rows (train.parquet where is_synthetic == False) "
        "with weights instead of resampling; these are the split's rows unless the sampler "
        "removed some."
    ),
}
AS_PUBLISHED = {
    "computed_from": "train.parquet as published, synthetic rows included",
    "use_for": (
        "A job that trains on train.parquet as published: near 1 for a class that reached "
        "balance, above 1 for a class that fell short of it, making up for the shortfall."
    ),
}


def balanced_weights(counts: Mapping[object, int], /) -> dict[object, float]:
    """scikit-learn's `class_weight="balanced"`: n_samples / (n_classes * count).

    Normalised so that the count-weighted mean weight is 1 (as in scikit-learn).
    """
    total = sum(counts.values())
    return {name: total / (len(counts) * count) for name, count in counts.items()}


def effective_number_weights(
    counts: Mapping[object, int], /, *, beta: float
) -> dict[object, float]:
    """Cui et al. 2019, "Class-Balanced Loss Based on Effective Number of Samples".

    The weight of a class is 1 / E(n) with E(n) = (1 - beta**n) / (1 - beta), normalised so
    the weights sum to the number of classes (the paper's normalisation). beta = 0 gives
    equal weights; beta → 1 approaches inverse class frequency.
    """
    raw = {name: (1 - beta) / (1 - beta**count) for name, count in counts.items()}
    scale = len(counts) / sum(raw.values())
    return {name: weight * scale for name, weight in raw.items()}


def class_weights(
    before: Mapping[object, int],
    published: Mapping[object, int],
    /,
    *,
    beta: float,
    label: str,
) -> dict[str, Any]:
    """The manifest's `class_weights`: both weight sets, each weight by label.

    Args:
        before: Rows per class of the training split before rebalancing.
        published: Rows per class of train.parquet as published (synthetic rows included).
        beta: Beta of the effective-number weights.
        label: The label column.

    Returns:
        `label_column`, `classes` (sorted, as scikit-learn's LabelEncoder orders them), the
        note, the normalisations, and `before_rebalancing` and `as_published`, each with its
        `counts` (in `classes` order), `use_for` and each scheme's weights `by_label`.

    Raises:
        SamplerError: a class of the split has no row left in train.parquet.
    """
    classes = sorted(before)
    missing = [name for name in classes if not published.get(name)]
    if missing:
        msg = (
            f"class {missing[0]!r} of label '{label}' has no row left in train.parquet after "
            "rebalancing; choose a sampler that keeps every class"
        )
        raise SamplerError(msg)
    return {
        "label_column": label,
        "classes": classes,
        "note": NOTE,
        "default": "balanced",
        "normalisation": NORMALISATION,
        "effective_number_beta": beta,
        "before_rebalancing": _weight_set(before, classes, beta=beta, about=BEFORE_REBALANCING),
        "as_published": _weight_set(published, classes, beta=beta, about=AS_PUBLISHED),
    }


def _weight_set(
    counts: Mapping[object, int],
    classes: list[object],
    /,
    *,
    beta: float,
    about: Mapping[str, str],
) -> dict[str, Any]:
    ordered = {name: counts[name] for name in classes}
    schemes = {
        "balanced": balanced_weights(ordered),
        "effective_number": effective_number_weights(ordered, beta=beta),
    }
    return {
        **about,
        "counts": [int(count) for count in ordered.values()],
        **{
            scheme: {
                # JSON object keys are strings; `classes` keeps the label values themselves.
                "by_label": {str(name): round(weight, 10) for name, weight in weights.items()}
            }
            for scheme, weights in schemes.items()
        },
    }


def class_weights_file(weights: Mapping[str, Any], /) -> dict[str, Any]:
    """`class_weights.json`: the manifest's `class_weights` plus each scheme's `ordered` list.

    Index i of an `ordered` list is the weight of `classes[i]`, ready for e.g.
    `torch.nn.CrossEntropyLoss(weight=torch.tensor(ordered))`.
    """
    keys = [str(name) for name in weights["classes"]]
    return {
        **weights,
        **{
            name: {
                **weights[name],
                **{
                    scheme: {
                        **weights[name][scheme],
                        "ordered": [weights[name][scheme]["by_label"][key] for key in keys],
                    }
                    for scheme in SCHEMES
                },
            }
            for name in ("before_rebalancing", "as_published")
        },
    }


def write_class_weights(weights: Mapping[str, Any], run_dir: Path, /) -> Path:
    """Write `class_weights.json` (see `class_weights_file`) into the run folder."""
    path = run_dir / CLASS_WEIGHTS_FILE
    text = json.dumps(class_weights_file(weights), indent=2, ensure_ascii=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    return path

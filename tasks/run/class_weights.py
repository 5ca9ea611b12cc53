"""Class weights for the training job, computed from the training split before resampling."""

from __future__ import annotations

from collections.abc import Mapping


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


def class_weights(counts: Mapping[object, int], /, *, beta: float) -> dict[str, object]:
    """Both weightings with their normalisation, in the manifest's shape."""
    classes = list(counts)
    return {
        "classes": classes,
        "balanced": {
            "normalisation": "n_samples / (n_classes * count); count-weighted mean is 1",
            "weights": _by_name(balanced_weights(counts)),
        },
        "effective_number": {
            "beta": beta,
            "normalisation": "(1 - beta) / (1 - beta**count), scaled to sum to n_classes",
            "weights": _by_name(effective_number_weights(counts, beta=beta)),
        },
    }


def _by_name(weights: Mapping[object, float]) -> dict[str, float]:
    # JSON object keys are strings; `classes` keeps the original label values and order.
    return {str(name): round(weight, 10) for name, weight in weights.items()}


CLASS_WEIGHTS_FILE = "class_weights.json"


def class_weights_for_training(
    counts: Mapping[object, int], /, *, beta: float, label: str
) -> dict[str, object]:
    """`class_weights.json`: weights a training job uses directly.

    `classes` is the label encoding (sorted labels, as scikit-learn's LabelEncoder orders
    them): index i of each `ordered` list is the weight of `classes[i]`, ready for e.g.
    `torch.nn.CrossEntropyLoss(weight=torch.tensor(ordered))`. `by_label` maps each label
    (as a string: JSON keys are strings) to its weight.
    """
    classes = sorted(counts)
    schemes = {
        "balanced": balanced_weights(counts),
        "effective_number": effective_number_weights(counts, beta=beta),
    }
    return {
        "label_column": label,
        "classes": classes,
        "counts": [int(counts[name]) for name in classes],
        "computed_from": "training split before rebalancing",
        "default": "balanced",
        **{
            scheme: {
                "by_label": {str(name): round(weights[name], 10) for name in classes},
                "ordered": [round(weights[name], 10) for name in classes],
            }
            for scheme, weights in schemes.items()
        },
        "effective_number_beta": beta,
    }

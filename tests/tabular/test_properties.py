"""Property-based: any small table either goes through the tabular core with every invariant
holding, or stops with one clear `RebalanceError`; never an unhandled exception.

Hypothesis draws the table's shape (class sizes from 1 row up, label type with stray spaces,
which feature columns, nulls, duplicate rows within and across classes, sampler, null policy);
numpy draws the values from a drawn seed, so an example stays cheap. The steps run in-process
as the flow composes them (`tasks.steps`), without Prefect: config → ingest → validate →
split → rebalance → manifest → verify.
"""

import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rebalance.config import load_config
from rebalance.errors import DataError, RebalanceError
from tasks.core.classes import class_counts, counts_by_name
from tasks.core.columns import SYNTHETIC
from tasks.run.manifest import build_manifest, read_manifest, utc_now, write_manifest
from tasks.tabular.modality import MODALITY as TABULAR
from tests.helpers import split_without_prefect, write_config
from validations.invariants import InvariantViolation, check_run_invariants, holdout_hashes

pytestmark = pytest.mark.slow

# SMOTE twice: it has the most ways to fail (k-NN on small classes, SMOTENC on categories).
SAMPLERS = ["SMOTE", "SMOTE", "RandomOverSampler", "RandomUnderSampler", "none"]
FEATURES = ["amount", "count", "colour", "flag"]


@st.composite
def tables(draw) -> dict:
    """The shape of a table; `values_seed` fills it."""
    classes = draw(st.integers(2, 4))
    return {
        "sizes": draw(
            st.lists(
                # Mostly splittable classes; one in five has 1-3 rows.
                st.sampled_from(["tiny", "ok", "ok", "ok", "ok"]).flatmap(
                    lambda kind: st.integers(1, 3) if kind == "tiny" else st.integers(4, 40)
                ),
                min_size=classes,
                max_size=classes,
            )
        ),
        "label_type": draw(st.sampled_from(["str", "int", "int_spaced"])),
        "features": draw(st.lists(st.sampled_from(FEATURES), min_size=1, max_size=3, unique=True)),
        "null_rate": draw(st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.3])),
        "null_labels": draw(st.booleans()),
        "nan_rate": draw(st.sampled_from([0.0, 0.0, 0.1])),
        "duplicate_rate": draw(st.sampled_from([0.0, 0.2, 0.6])),
        "distinct_values": draw(st.sampled_from([2, 5, 1000])),
        "with_id": draw(st.booleans()),
        "sampler": draw(st.sampled_from(SAMPLERS)),
        "null_policy": draw(st.sampled_from(["drop", "drop", "drop", "fail"])),
        "values_seed": draw(st.integers(0, 2**32 - 1)),
    }


def build_frame(shape: dict) -> pl.DataFrame:
    """The table: labels with stray spaces, feature values from few or many distinct ones."""
    rng = np.random.default_rng(shape["values_seed"])
    names = ["approved", "rejected", "pending", "review"]
    labels: list = []
    for index, size in enumerate(shape["sizes"]):
        for _ in range(size):
            if shape["label_type"] == "str":
                labels.append(rng.choice(["", " ", "  "]) + names[index] + rng.choice(["", " "]))
            elif shape["label_type"] == "int_spaced":
                labels.append(rng.choice(["", " "]) + str(index * 7) + rng.choice(["", "  "]))
            else:
                labels.append(index * 7)
    rows = len(labels)
    distinct = shape["distinct_values"]
    columns = {
        "amount": np.round(rng.integers(0, distinct, rows) * 1.5 + 0.25, 2),
        "count": rng.integers(0, distinct, rows),
        "colour": np.array(["red", "green", "blue", "grey", "teal"])[
            rng.integers(0, min(distinct, 5), rows)
        ],
        "flag": rng.random(rows) < 0.5,
    }
    # Duplicates: copy an earlier row's features, from any class.
    copies = np.flatnonzero(rng.random(rows) < shape["duplicate_rate"])
    for target in copies:
        source = rng.integers(0, rows)
        for values in columns.values():
            values[target] = values[source]
    frame = pl.DataFrame({name: columns[name] for name in shape["features"]}).with_columns(
        pl.Series("label", labels)
    )
    nulls = [*shape["features"], *(["label"] if shape["null_labels"] else [])]
    if shape["null_rate"]:
        frame = frame.with_columns(
            pl.when(pl.lit(rng.random(rows) < shape["null_rate"]))
            .then(None)
            .otherwise(pl.col(name))
            .alias(name)
            for name in nulls
        )
    if shape["nan_rate"] and "amount" in shape["features"]:
        frame = frame.with_columns(
            pl.when(pl.lit(rng.random(rows) < shape["nan_rate"]))
            .then(float("nan"))
            .otherwise(pl.col("amount"))
            .alias("amount")
        )
    if shape["with_id"]:
        frame = frame.with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))
    # Shuffled, so classes and duplicates are not in blocks.
    return frame.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(0, 2**31)))


def run_core(folder: Path, shape: dict) -> dict:
    """The flow's steps in order, without Prefect; returns what the checks need."""
    frame = build_frame(shape)
    frame.write_csv(folder / "data.csv")
    config = load_config(
        write_config(
            folder,
            "data.csv",
            label="label",
            id_column="row_id" if shape["with_id"] else None,
            # No drop limit: the heavy null rates must still reach the split and the sampler
            # (tests/checks/test_drops.py tests the limit).
            validation={"null_policy": shape["null_policy"], "max_drop_fraction": 1.0},
            rebalance={"sampler": shape["sampler"]},
        )
    )
    run_dir = folder / "run"
    run_dir.mkdir()
    TABULAR.check_config(config)
    ingested, checked, splits = split_without_prefect(TABULAR, config, run_dir)
    columns = ingested.columns
    hashes = holdout_hashes(run_dir)
    resampled = TABULAR.rebalance(splits.train, columns, config, run_dir)
    manifest = build_manifest(
        config=config,
        run_id="property",
        started_at=utc_now(),
        ingested=ingested,
        checked=checked,
        splits=splits,
        resampled=resampled,
        timings={},
        flow_run_id=None,
    )
    write_manifest(manifest, run_dir)
    check_run_invariants(
        run_dir,
        manifest=read_manifest(run_dir / "manifest.json"),
        label=columns.label,
        split_train=splits.train,
        holdout_sha256=hashes,
        sample_keys=lambda part: TABULAR.split_keys(part, columns, config),
        sample_identity=lambda part: TABULAR.sample_identity(part, columns),
    )
    return {
        "frame": frame,
        "checked": checked.frame,
        "splits": splits,
        "run_dir": run_dir,
        "manifest": manifest,
        "features": list(columns.features),
    }


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(shape=tables())
def test_the_tabular_core_keeps_its_invariants_or_fails_clearly(shape):
    with tempfile.TemporaryDirectory() as scratch:
        try:
            result = run_core(Path(scratch), shape)
        except InvariantViolation:
            raise  # a broken promise is a bug, never an acceptable outcome
        except RebalanceError as exc:
            message = str(exc)
            assert message and "\n" not in message, message
            assert "(None)" not in message, message  # no row left is not "a class None"
            event(f"stopped: {type(exc).__name__}: {message.split(';')[0][-40:]}")
            return
        event(f"published with {shape['sampler']}")
        run_dir, splits = result["run_dir"], result["splits"]
        train = pl.read_parquet(run_dir / "train.parquet")
        holdouts = {name: pl.read_parquet(run_dir / f"{name}.parquet") for name in ("val", "test")}

    # val/test: exactly the split's rows, no synthetic marker.
    for name, frame in holdouts.items():
        assert SYNTHETIC not in frame.columns
        assert frame.equals(splits.frames()[name])
    # Originals: the training split's rows, with their values (all of them unless undersampled).
    originals = train.filter(~pl.col(SYNTHETIC)).drop(SYNTHETIC)
    if shape["sampler"] == "RandomUnderSampler":
        assert originals.join(splits.train, on=originals.columns, how="anti").height == 0
    else:
        assert _sorted(originals).equals(_sorted(splits.train))
    # The splits together are the validated rows: nothing lost, nothing invented.
    everything = pl.concat([splits.train, *holdouts.values()])
    assert _sorted(everything).equals(_sorted(result["checked"]))
    # Labels are stripped; every class is in every split.
    labels = set(result["checked"]["label"].to_list())
    assert all(not isinstance(v, str) or v == v.strip() for v in labels)
    for frame in (splits.train, *holdouts.values()):
        assert set(frame["label"].to_list()) == labels
    # Counts: the manifest's, and balanced as the sampler promises.
    counts = class_counts(train["label"])
    assert counts_by_name(counts) == result["manifest"]["counts"]["after"]["train"]
    before = class_counts(splits.train["label"])
    conflicts = result["manifest"]["rebalance"]["conflicts"]
    if shape["sampler"] in {"SMOTE", "RandomOverSampler"}:
        # Synthetic rows that would repeat a row of another class and found no replacement
        # are dropped: the class is short of the target by exactly that many.
        dropped = {name: item["dropped"] for name, item in conflicts["per_class"].items()}
        reached = {count + dropped.get(str(name), 0) for name, count in counts.items()}
        assert reached == {max(before.values())}
    elif shape["sampler"] == "RandomUnderSampler":
        assert set(counts.values()) == {min(before.values())}
    else:
        assert counts == before
        assert conflicts["found"] == 0
    # Synthetic rows only hold category values seen in training.
    if "colour" in result["features"]:
        assert set(train["colour"].drop_nulls()) <= set(splits.train["colour"].drop_nulls())


def test_a_drop_policy_that_drops_every_row_says_so(tmp_path):
    # Found by the property above: all rows had a null somewhere, and the error claimed the
    # label column "has a single class (None)".
    from tasks.core.columns import Columns
    from validations.tabular import validate_table

    frame = pl.DataFrame(
        {"amount": [None, 1.0, 2.0, None], "colour": ["red", None, None, "blue"], "label": "ab" * 2}
    )
    columns = Columns(label="label", features=("amount", "colour"))

    with pytest.raises(DataError) as caught:
        validate_table(frame, columns=columns, null_policy="drop", dataset="t", output_dir=tmp_path)

    message = str(caught.value)
    assert "every one of the 4 rows has a null" in message
    assert "'amount' (2), 'colour' (2)" in message
    assert "single class" not in message

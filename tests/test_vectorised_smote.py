"""Seeded golden comparisons: our SMOTENC/SMOTEN give imblearn 0.14.2's exact output."""

import numpy as np
import polars as pl
import pytest
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC

from tasks.ingest import Columns
from tasks.samplers import build_sampler, check_sampler_config, sampler_name
from tasks.tabular import rebalance_table
from tasks.vectorised_smote import VectorisedSMOTE, VectorisedSMOTEN, VectorisedSMOTENC


def _mixed(n=400, *, seed=0, classes=(0.8, 0.15, 0.05), scale=1.0, levels=(3, 7, 2)):
    """Object matrix: 3 numeric columns, a string, a string with many levels, a bool."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, 6), dtype=object)
    X[:, 0] = rng.normal(size=n) * scale
    X[:, 1] = rng.integers(0, 4, size=n).astype(float) * scale  # many exact ties
    X[:, 2] = rng.exponential(size=n) * scale
    X[:, 3] = rng.choice(np.array([f"s{i}" for i in range(levels[0])], dtype=object), n)
    X[:, 4] = rng.choice(np.array([f"t{i}" for i in range(levels[1])], dtype=object), n)
    X[:, 5] = rng.random(n) < 0.4 if levels[2] == 2 else True
    y = rng.choice(np.array(["a", "b", "c"][: len(classes)]), size=n, p=classes)
    return X, y


def _assert_same(ours, theirs, X, y):
    expected_X, expected_y = theirs.fit_resample(X, y)
    got_X, got_y = ours.fit_resample(X, y)
    assert got_X.dtype == expected_X.dtype
    assert got_X.shape == expected_X.shape
    assert np.array_equal(got_X, expected_X)
    assert np.array_equal(got_y, expected_y)
    # Same Python types in object columns (str stays str, bool stays bool).
    if got_X.dtype == object:
        assert [type(v) for v in got_X[-1]] == [type(v) for v in expected_X[-1]]


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        (0, {}),
        (1, {"k_neighbors": 2}),  # k lowered, more ties in votes
        (2, {"k_neighbors": 4}),  # even k: two-two ties
        (3, {"sampling_strategy": {"b": 200, "c": 150}}),
        (4, {"sampling_strategy": "minority"}),
    ],
)
def test_smotenc_is_identical_to_imblearn_on_mixed_strings_and_bools(seed, params):
    X, y = _mixed(seed=seed)
    kwargs = {"categorical_features": [3, 4, 5], "random_state": seed, **params}

    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)


def test_smotenc_is_identical_with_a_shared_random_state_instance():
    # A RandomState object is consumed across classes: the order of draws must match too.
    X, y = _mixed(seed=5)
    kwargs = {"categorical_features": [3, 4, 5]}

    _assert_same(
        VectorisedSMOTENC(random_state=np.random.RandomState(7), **kwargs),
        SMOTENC(random_state=np.random.RandomState(7), **kwargs),
        X,
        y,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_smotenc_is_identical_on_numeric_arrays_with_categorical_codes(dtype):
    rng = np.random.default_rng(8)
    X = np.column_stack([rng.normal(size=300), rng.integers(0, 5, size=300), rng.normal(size=300)])
    X = X.astype(dtype)
    y = (rng.random(300) < 0.1).astype(int)
    kwargs = {"categorical_features": [1], "random_state": 3}

    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)


@pytest.mark.parametrize("scale", [0.0, 1e-9, 1e6])
def test_smotenc_is_identical_for_zero_tiny_and_huge_spreads(scale):
    # scale 0: median std is 0 (imblearn's special case); 1e-9: weights under isclose's
    # atol, where imblearn's own code runs; 1e6: large weights.
    X, y = _mixed(seed=9, scale=scale, classes=(0.85, 0.15))
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 0}

    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)


def test_smotenc_with_a_single_level_column_and_a_custom_encoder_matches():
    from sklearn.preprocessing import OneHotEncoder

    X, y = _mixed(seed=10, levels=(1, 4, 1))
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 1}
    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)

    encoder = {"categorical_encoder": OneHotEncoder(handle_unknown="ignore")}
    _assert_same(VectorisedSMOTENC(**kwargs, **encoder), SMOTENC(**kwargs, **encoder), X, y)


@pytest.mark.parametrize(("seed", "params"), [(0, {}), (1, {"k_neighbors": 2}), (2, {})])
def test_smoten_is_identical_to_imblearn(seed, params):
    X, y = _mixed(seed=seed)
    X = X[:, 3:]
    kwargs = {"random_state": seed, **params}

    _assert_same(VectorisedSMOTEN(**kwargs), SMOTEN(**kwargs), X, y)


@pytest.mark.parametrize(
    ("dtype", "params"),
    [
        (np.float64, {}),
        (np.float64, {"k_neighbors": 2, "sampling_strategy": {"b": 300, "c": 250}}),
        (np.float32, {}),  # runs imblearn's own code
    ],
)
def test_smote_is_identical_to_imblearn(dtype, params, monkeypatch):
    import tasks.vectorised_smote as vectorised

    monkeypatch.setattr(vectorised, "_SMOTE_BLOCK_ROWS", 7)  # several blocks per class
    X, y = _mixed(seed=13)
    X = X[:, :3].astype(dtype)
    kwargs = {"random_state": 5, **params}

    _assert_same(VectorisedSMOTE(**kwargs), SMOTE(**kwargs), X, y)


def test_imblearn_parameter_validation_is_kept():
    X, y = _mixed()
    with pytest.raises(ValueError, match="SMOTE-NC is not designed to work only with categorical"):
        VectorisedSMOTENC(categorical_features=[0, 1, 2, 3, 4, 5]).fit_resample(X, y)
    with pytest.raises(ValueError, match="k_neighbors"):
        VectorisedSMOTEN(k_neighbors=0).fit_resample(X[:, 3:], y)


def test_the_registry_runs_ours_under_imblearns_name():
    sampler = build_sampler("smotenc", {"categorical_features": [0]}, seed=1)

    assert isinstance(sampler, VectorisedSMOTENC)
    assert sampler_name(sampler) == "SMOTENC"
    assert check_sampler_config("SMOTEN", {}, seed=1) == "SMOTEN"


def test_smote_on_a_mixed_table_equals_imblearns_smotenc_on_the_same_matrix():
    X, y = _mixed(n=300, seed=11, classes=(0.85, 0.15))
    frame = pl.DataFrame(
        {
            "x0": X[:, 0].astype(float),
            "x1": X[:, 1].astype(float),
            "x2": X[:, 2].astype(float),
            "s": X[:, 3].astype(str),
            "t": X[:, 4].astype(str),
            "flag": X[:, 5].astype(bool),
            "y": y,
        }
    )
    columns = Columns(label="y", features=("x0", "x1", "x2", "s", "t", "flag"))

    result = rebalance_table(frame, columns=columns, sampler="SMOTE", params={}, seed=4)

    expected_X, _ = SMOTENC(categorical_features=[3, 4, 5], random_state=4).fit_resample(X, y)
    synthetic = result.frame.filter(pl.col("is_synthetic"))
    assert result.sampler == "SMOTENC"
    assert synthetic.height == expected_X.shape[0] - frame.height
    assert synthetic["s"].to_list() == expected_X[frame.height :, 3].tolist()
    assert synthetic["flag"].to_list() == expected_X[frame.height :, 5].tolist()
    assert np.array_equal(synthetic["x0"].to_numpy(), expected_X[frame.height :, 0].astype(float))


def test_outputs_stay_identical_when_work_is_split_in_blocks(monkeypatch):
    # Large tables are processed a block of rows at a time; force tiny blocks here.
    import tasks.vectorised_smote as vectorised

    monkeypatch.setattr(vectorised, "_VOTE_CELLS", 64)
    monkeypatch.setattr(vectorised, "_DISTANCE_CELLS", 500)
    X, y = _mixed(seed=12)

    _assert_same(
        VectorisedSMOTENC(categorical_features=[3, 4, 5], random_state=2),
        SMOTENC(categorical_features=[3, 4, 5], random_state=2),
        X,
        y,
    )
    _assert_same(VectorisedSMOTEN(random_state=2), SMOTEN(random_state=2), X[:, 3:], y)

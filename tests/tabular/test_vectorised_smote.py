"""Seeded golden comparisons: our SMOTENC/SMOTEN give imblearn 0.14.2's exact output."""

import numpy as np
import polars as pl
import pytest
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import OneHotEncoder

from tasks.core.columns import Columns
from tasks.tabular.resample import rebalance_table
from tasks.tabular.samplers import build_sampler, check_sampler_config, sampler_name
from tasks.tabular.vectorised_smote import (
    VectorisedSMOTE,
    VectorisedSMOTEN,
    VectorisedSMOTENC,
    _category_codes,
    _class_neighbours,
    _most_voted,
)


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


def _tied(n=400, *, seed=0, kind="integers"):
    """`_mixed`'s layout with exact ties: equidistant neighbours, duplicates, huge norms.

    integers: small integer-valued numeric columns and few categories; duplicates: a third
    of the rows repeated, some of them under another class; offset: numeric columns at
    1e6 plus noise of 1e-3 (squared norms of 1e12, where rounding swamps the distances)
    and a fifth of the rows repeated.
    """
    rng = np.random.default_rng(seed)
    X, y = _mixed(n, seed=seed, classes=(0.7, 0.3), levels=(2, 3, 2))
    if kind == "integers":
        X[:, :3] = rng.integers(0, 3, size=(n, 3)).astype(float)
    elif kind == "offset":
        X[:, :3] = 1e6 + rng.normal(size=(n, 3)) * 1e-3
    repeated = rng.choice(n, size=n // 3 if kind == "duplicates" else n // 5, replace=False)
    half = repeated.size // 2
    X[repeated[:half]] = X[repeated[half : 2 * half]]
    if kind == "duplicates":
        # Rows that repeat a row of the other class, and repeat each other within it.
        y[repeated[:10]] = np.where(y[repeated[:10]] == "a", "b", "a")
    return X, y


def _cells(X):
    """Every cell of an object matrix as (type, value), NaN equal to NaN."""
    return [(type(v), "NaN" if v != v else v) for v in X.ravel().tolist()]


def _assert_same(ours, theirs, X, y):
    expected_X, expected_y = theirs.fit_resample(X, y)
    got_X, got_y = ours.fit_resample(X, y)
    assert got_X.dtype == expected_X.dtype
    assert got_X.shape == expected_X.shape
    if got_X.dtype != object:
        assert np.array_equal(got_X, expected_X, equal_nan=got_X.dtype.kind == "f")
    assert np.array_equal(got_y, expected_y)
    # Same Python types in object columns (str stays str, bool stays bool).
    if got_X.dtype == object:
        assert _cells(got_X) == _cells(expected_X)


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


@pytest.mark.parametrize(
    "categorical_features",
    [
        [5, 3, 4],  # unsorted: the one-hot columns follow this order, the output the input's
        [5, -3, 4],
        [False, False, False, True, True, True],
        [0, 4, 3, 5],  # interleaved with numeric columns, and a float column as categories
        [3, 3, 4, 5],  # repeated: imblearn returns a seventh column
    ],
)
def test_smotenc_is_identical_for_any_categorical_features_spec(categorical_features):
    X, y = _mixed(seed=16)
    kwargs = {"categorical_features": categorical_features, "random_state": 1}

    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)


def test_smotenc_raises_imblearns_error_under_pandas_output():
    from sklearn import config_context

    X, y = _mixed(seed=17)
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 0}
    with config_context(transform_output="pandas"):
        with pytest.raises(ValueError, match="Pandas output does not support sparse data"):
            SMOTENC(**kwargs).fit_resample(X, y)
        with pytest.raises(ValueError, match="Pandas output does not support sparse data"):
            VectorisedSMOTENC(**kwargs).fit_resample(X, y)


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


def _fitted_state(sampler):
    """What a fitted SMOTENC exposes, comparable with ==: its attributes, the encoder's
    (as reprs: categories may hold NaN), and the class matrix its `nn_k_` was fitted on."""
    state = {
        name: repr(value)
        for name, value in vars(sampler).items()
        if name.endswith("_") and name not in ("nn_k_", "categorical_encoder_")
    }
    state["encoder"] = {
        name: repr(value) for name, value in vars(sampler.categorical_encoder_).items()
    }
    fit_X = sampler.nn_k_._fit_X
    state["nn_k_"] = (repr(sampler.nn_k_), fit_X.shape, fit_X.dtype, fit_X.indices.dtype)
    state["nn_k_ matrix"] = (fit_X.indptr.tolist(), fit_X.indices.tolist(), fit_X.data.tolist())
    minority = getattr(sampler, "_X_categorical_minority_encoded", None)
    state["minority"] = None if minority is None else minority.tolist()
    return state


@pytest.mark.parametrize(
    ("seed", "scale", "params"),
    [(0, 1.0, {}), (1, 0.0, {}), (2, 1.0, {"sampling_strategy": {"b": 200, "c": 150}})],
)
def test_smotenc_leaves_imblearns_fitted_attributes(seed, scale, params):
    # Users read categorical_encoder_, median_std_, nn_k_, ...: the same as imblearn's.
    X, y = _mixed(seed=seed, scale=scale)
    kwargs = {"categorical_features": [3, 4, 5], "random_state": seed, **params}
    ours, theirs = VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs)

    _assert_same(ours, theirs, X, y)

    assert _fitted_state(ours) == _fitted_state(theirs)
    assert ours.median_std_ == theirs.median_std_


def _odd_column(kind, n, rng):
    """An object column of categories that a hash table could group unlike sklearn's dict."""
    nan, other_nan = float("nan"), np.float64("nan")  # distinct NaN objects
    levels = {
        "missing": ["a", "b", None, nan, other_nan, "c"],
        # 1, 1.0 and True are one category to a dict (equal, same hash); so are 0 and False.
        "bools and numbers": [True, 1, 1.0, 2, False, 0, 0.0, -0.0, 2.5],
        "numpy strings": ["a", np.str_("a"), "b", np.str_("c")],
        "numpy scalars": [np.int64(3), 3, np.float64(0.5), 0.5, 7],
        "floats with NaN": [0.5, -1.0, 0.0, -0.0, nan, 2.0],
    }[kind]
    column = np.empty(n, dtype=object)
    column[:] = [levels[i] for i in rng.integers(0, len(levels), size=n)]
    return column


ODD_KINDS = ["missing", "bools and numbers", "numpy strings", "numpy scalars", "floats with NaN"]


@pytest.mark.parametrize("kind", ODD_KINDS)
def test_category_codes_are_the_one_hot_columns_of_sklearns_transform(kind):
    rng = np.random.default_rng(len(kind))
    X = np.column_stack([_odd_column(kind, 500, rng), rng.choice(["p", "q"], 500).astype(object)])
    expected = OneHotEncoder(handle_unknown="ignore").fit(X)
    one_hot = expected.transform(X).toarray()
    encoder = OneHotEncoder(handle_unknown="ignore")

    codes = _category_codes(encoder, X)

    assert repr(encoder.categories_) == repr(expected.categories_)
    offsets = np.cumsum([0] + [len(c) for c in expected.categories_])
    for feature in range(X.shape[1]):
        block = one_hot[:, offsets[feature] : offsets[feature + 1]]
        assert np.array_equal(codes[:, feature], block.argmax(axis=1))
    assert len(set(codes[:, 0])) == len(expected.categories_[0])  # every category is used


@pytest.mark.parametrize("kind", ODD_KINDS)
def test_smotenc_is_identical_on_odd_categories(kind):
    rng = np.random.default_rng(len(kind))
    X, y = _mixed(seed=len(kind))
    X[:, 4] = _odd_column(kind, X.shape[0], rng)
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 0}
    ours, theirs = VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs)

    _assert_same(ours, theirs, X, y)
    assert _fitted_state(ours) == _fitted_state(theirs)


def test_smotenc_raises_imblearns_error_on_mixed_strings_and_numbers():
    X, y = _mixed(seed=3)
    X[:, 4] = "a"
    X[::2, 4] = 1
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 0}
    with pytest.raises(TypeError, match=r"uniformly strings or numbers. Got \['int', 'str'\]"):
        SMOTENC(**kwargs).fit_resample(X, y)
    with pytest.raises(TypeError, match=r"uniformly strings or numbers. Got \['int', 'str'\]"):
        VectorisedSMOTENC(**kwargs).fit_resample(X, y)


def test_smotenc_is_identical_on_a_dataframe_with_typed_columns():
    # A frame keeps each column's dtype through the encoder: category, bool, int, str.
    pd = pytest.importorskip("pandas")
    X, y = _mixed(seed=15)
    frame = pd.DataFrame(
        {
            "x0": X[:, 0].astype(float),
            "s": pd.Categorical(X[:, 3].astype(str)),
            "x1": X[:, 1].astype(float),
            "flag": X[:, 5].astype(bool),
            "n": np.random.default_rng(15).integers(0, 4, size=X.shape[0]),
            "t": X[:, 4].astype(str),
            "x2": X[:, 2].astype(float),
        }
    )
    kwargs = {"categorical_features": ["t", "s", "flag", "n"], "random_state": 3}
    ours, theirs = VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs)

    expected_X, expected_y = theirs.fit_resample(frame, y)
    got_X, got_y = ours.fit_resample(frame, y)

    pd.testing.assert_frame_equal(got_X, expected_X)
    assert np.array_equal(got_y, expected_y)
    assert _fitted_state(ours) == _fitted_state(theirs)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("integers", {}),
        ("integers", {"k_neighbors": 2}),
        ("duplicates", {}),
        ("duplicates", {"k_neighbors": 8}),
        ("offset", {}),
    ],
)
@pytest.mark.parametrize("min_group_rows", [1, 1000])  # search by one-hot group, or not
def test_smotenc_is_identical_on_ties_duplicates_and_huge_norms(
    kind, params, min_group_rows, monkeypatch
):
    # Equidistant neighbours are where a dense search would order rows unlike sklearn's.
    import tasks.tabular.vectorised_smote as vectorised

    monkeypatch.setattr(vectorised, "_MIN_GROUP_ROWS", min_group_rows)
    X, y = _tied(kind=kind, seed=len(kind))
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 6, **params}

    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)


@pytest.mark.parametrize(
    ("estimator", "dense_rows"),
    [
        (NearestNeighbors(n_neighbors=4, metric="manhattan"), False),
        (NearestNeighbors(n_neighbors=4, metric="l2"), False),  # sklearn takes square roots
        (NearestNeighbors(n_neighbors=4, metric="minkowski", metric_params={"w": None}), True),
        (NearestNeighbors(n_neighbors=3, algorithm="brute", metric="euclidean"), True),
    ],
)
def test_smotenc_with_a_neighbours_estimator_matches(estimator, dense_rows, monkeypatch):
    import tasks.tabular.vectorised_smote as vectorised

    answered_by_sklearn = []

    def spy(nn, X_class, **kwargs):
        neighbours, fallback = _class_neighbours(nn, X_class, **kwargs)
        answered_by_sklearn.append(fallback.size / X_class.shape[0])
        return neighbours, fallback

    monkeypatch.setattr(vectorised, "_class_neighbours", spy)
    X, y = _mixed(seed=14)
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 2, "k_neighbors": estimator}

    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)
    # Other metrics run sklearn's own search on every row; euclidean ones the dense one.
    assert len(answered_by_sklearn) == 2
    assert all(share < 0.5 for share in answered_by_sklearn) == dense_rows
    assert all(share == 1.0 for share in answered_by_sklearn) == (not dense_rows)


def _sparse_class(kind, seed):
    """A class matrix as SMOTENC searches it: numeric columns, then weighted one-hot."""
    rng = np.random.default_rng(seed)
    n = 500
    if kind == "normal":
        numeric = rng.normal(size=(n, 3))
    elif kind == "integers":
        numeric = rng.integers(0, 4, size=(n, 3)).astype(float)
    else:  # offset: squared norms of 3e12, rounding errors near the gaps between distances
        numeric = 1e6 + rng.normal(size=(n, 3)) * 0.1
    numeric[rng.choice(n, 40, replace=False)] = numeric[rng.choice(n, 40, replace=False)]
    # Weight √½: one category apart is a squared distance of 1 (rounded), as is one unit
    # apart in one integer column.
    one_hot = np.eye(3)[rng.integers(0, 3, size=n)] * np.sqrt(0.5)
    return sparse.csr_matrix(np.hstack([numeric, one_hot]))


@pytest.mark.parametrize("kind", ["normal", "integers", "offset"])
@pytest.mark.parametrize(
    ("cells", "n_continuous"),
    [(1 << 22, None), (1 << 22, 3), (1000, None), (1000, 3)],  # 3: by one-hot group
)
def test_class_neighbours_equal_sklearns_kneighbors(kind, cells, n_continuous, monkeypatch):
    import tasks.tabular.vectorised_smote as vectorised

    monkeypatch.setattr(vectorised, "_NEIGHBOUR_CELLS", cells)
    X_class = _sparse_class(kind, seed=cells % 7)
    expected = (
        NearestNeighbors(n_neighbors=6).fit(X_class).kneighbors(X_class, return_distance=False)
    )
    nn = NearestNeighbors(n_neighbors=6)

    got, fallback = _class_neighbours(nn, X_class, n_continuous=n_continuous)

    assert np.array_equal(got, expected)
    # Both paths ran: the 40 repeated rows and their neighbours need sklearn's tie order;
    # at 1e6 rounding swamps every distance.
    n_rows = X_class.shape[0]
    low, high = {"normal": (40, 200), "integers": (250, n_rows), "offset": (n_rows, n_rows)}[kind]
    assert low <= fallback.size <= high
    assert (nn._fit_X != X_class).nnz == 0  # left fitted on the class, as imblearn leaves it


def test_the_dense_order_alone_differs_from_sklearns_where_the_rows_fall_back():
    # The tests above can fail: without the fallback, the dense answer is wrong on these.
    X_class = _sparse_class("integers", seed=3)
    expected = (
        NearestNeighbors(n_neighbors=6).fit(X_class).kneighbors(X_class, return_distance=False)
    )
    dense = X_class.toarray()
    squared = ((dense[:, None, :] - dense[None, :, :]) ** 2).sum(axis=2)
    dense_order = np.argsort(squared, axis=1, kind="stable")[:, :6]

    _, fallback = _class_neighbours(NearestNeighbors(n_neighbors=6), X_class)

    wrong = np.flatnonzero(np.any(dense_order != expected, axis=1))
    assert wrong.size > 50
    assert np.isin(wrong, fallback).all()


def test_the_error_bound_is_what_keeps_huge_norms_exact(monkeypatch):
    # At 1e6 rounding errors reorder neighbours: a zero bound certifies wrong rows.
    import tasks.tabular.vectorised_smote as vectorised

    X_class = _sparse_class("offset", seed=4)
    expected = (
        NearestNeighbors(n_neighbors=6).fit(X_class).kneighbors(X_class, return_distance=False)
    )
    monkeypatch.setattr(vectorised, "_ERROR_SAFETY", 0.0)

    got, fallback = _class_neighbours(NearestNeighbors(n_neighbors=6), X_class)

    assert fallback.size < X_class.shape[0]
    assert not np.array_equal(got, expected)


@pytest.mark.parametrize("kind", ["integers", "offset"])
def test_sklearn_answers_a_subset_of_queries_as_the_full_query(kind):
    # The fallback asks sklearn for some rows only; its tie order must not depend on that.
    X_class = _sparse_class(kind, seed=5)
    nn = NearestNeighbors(n_neighbors=6).fit(X_class)
    full = nn.kneighbors(X_class, return_distance=False)
    rows = np.random.default_rng(5).choice(X_class.shape[0], 123, replace=False)

    subset = nn.kneighbors(X_class[rows], return_distance=False)

    assert np.array_equal(subset, full[rows])


def test_smotenc_with_a_single_level_column_and_a_custom_encoder_matches():
    from sklearn.preprocessing import OneHotEncoder

    X, y = _mixed(seed=10, levels=(1, 4, 1))
    kwargs = {"categorical_features": [3, 4, 5], "random_state": 1}
    _assert_same(VectorisedSMOTENC(**kwargs), SMOTENC(**kwargs), X, y)

    encoder = {"categorical_encoder": OneHotEncoder(handle_unknown="ignore")}
    _assert_same(VectorisedSMOTENC(**kwargs, **encoder), SMOTENC(**kwargs, **encoder), X, y)


def _imblearns_votes(votes, n_values, rng):
    """SMOTENC._generate_samples' choice among one feature's neighbour votes."""
    col_maxs = np.zeros((votes.shape[0], n_values))
    for column in votes.T:
        col_maxs[np.arange(votes.shape[0]), column] += 1.0
    is_max = np.isclose(col_maxs, col_maxs.max(axis=1, keepdims=True))
    max_idxs = rng.permutation(np.argwhere(is_max))
    _, idx_sels = np.unique(max_idxs[:, 0], return_index=True)
    return max_idxs[idx_sels, 1]


@pytest.mark.parametrize(
    ("k", "n_values"), [(1, 3), (2, 2), (3, 4), (4, 3), (5, 12), (5, 2), (8, 5), (30, 40)]
)
def test_most_voted_picks_imblearns_category_and_consumes_the_same_draws(k, n_values):
    # Few categories and even k give ties of two and more; one category per row gives none.
    votes = np.random.default_rng(k * n_values).integers(0, n_values, size=(2000, k))
    expected_rng, got_rng = np.random.RandomState(k), np.random.RandomState(k)

    expected = _imblearns_votes(votes, n_values, expected_rng)
    got = _most_voted(votes, got_rng)

    assert np.array_equal(got, expected)
    assert got_rng.randint(1 << 30) == expected_rng.randint(1 << 30)


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
    import tasks.tabular.vectorised_smote as vectorised

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
    import tasks.tabular.vectorised_smote as vectorised

    monkeypatch.setattr(vectorised, "_VOTE_CELLS", 64)
    monkeypatch.setattr(vectorised, "_DISTANCE_CELLS", 500)
    monkeypatch.setattr(vectorised, "_NEIGHBOUR_CELLS", 500)
    monkeypatch.setattr(vectorised, "_MIN_GROUP_ROWS", 1)
    X, y = _mixed(seed=12)

    _assert_same(
        VectorisedSMOTENC(categorical_features=[3, 4, 5], random_state=2),
        SMOTENC(categorical_features=[3, 4, 5], random_state=2),
        X,
        y,
    )
    _assert_same(VectorisedSMOTEN(random_state=2), SMOTEN(random_state=2), X[:, 3:], y)


def _wide_numeric(n=600, *, seed=0, kind="normal"):
    """20 float columns (sklearn's auto search is brute force above 15), 2 classes.

    normal: rounded to 6 decimals, as exported data is; integers: values 0-2 (ties and
    duplicates everywhere); offset: 1e6 plus noise of 1e-3 (rounding swamps distances).
    """
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.2, 1, 0)
    X = np.round(rng.normal(size=(n, 20)) + y[:, None] * 0.5, 6)
    if kind == "integers":
        X = rng.integers(0, 3, size=(n, 20)).astype(float)
    elif kind == "offset":
        X = 1e6 + rng.normal(size=(n, 20)) * 1e-3
    return X, y


@pytest.mark.parametrize("kind", ["normal", "integers", "offset"])
@pytest.mark.parametrize("params", [{}, {"k_neighbors": 3}])
def test_smote_on_twenty_columns_is_identical_to_imblearn(kind, params):
    X, y = _wide_numeric(kind=kind)
    kwargs = {"random_state": 3, **params}

    _assert_same(VectorisedSMOTE(**kwargs), SMOTE(**kwargs), X, y)

"""SMOTENC and SMOTEN with imbalanced-learn's output, without its Python-level loops.

imblearn 0.14.2's SMOTENC spends most of its time in the sparse one-hot inverse transform
(scipy's row-by-row `argmax`) and in building a LIL matrix for the category votes; SMOTEN in
computing its Value Difference Metric sample by sample. These subclasses keep imblearn's API,
parameter validation, nearest-neighbour search and random stream (the same generator calls
in the same order), and replace only those parts with array operations on category codes.
Their output is identical to imblearn's for the same `random_state` (tests compare them);
where exactness cannot be shown cheaply (a custom `categorical_encoder`, sparse input, or
category weights so small that imblearn's `np.isclose` merges unequal vote counts), they
run imblearn's own code. SMOTENC's nearest-neighbour search runs densely with BLAS, and
sklearn's own sparse search only for the rows whose neighbour order the dense distances
cannot certify (ties, near-ties, duplicate rows): see `_class_neighbours`. Around it,
SMOTENC fits imblearn's one-hot encoder but reads category codes without transforming
(`_category_codes`), builds the sparse matrix of the classes it searches only
(`_class_matrix`), and writes its object output once, in place (`_resampled_matrix`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC
from scipy import sparse
from scipy.spatial import distance_matrix
from sklearn import get_config
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils import _safe_indexing, check_array, check_random_state
from sklearn.utils._encode import _encode
from sklearn.utils.sparsefuncs_fast import csr_mean_variance_axis0
from sklearn.utils.validation import _num_features
from threadpoolctl import threadpool_limits

# np.isclose's defaults, which imblearn uses to find the most voted categories.
_ISCLOSE_RTOL = 1e-5
_ISCLOSE_ATOL = 1e-8
# Rows per chunk when SMOTEN counts votes, so counts take at most ~this many cells at once.
_VOTE_CELLS = 1 << 24
# Rows of synthetic samples interpolated at once by SMOTE (bounds its temporaries).
_SMOTE_BLOCK_ROWS = 1 << 16
# Cells of the SMOTEN distance matrix computed at once (8 bytes each: 64 MiB).
_DISTANCE_CELLS = 1 << 23
# Cells of SMOTENC's squared distances computed at once (8 bytes each: 32 MiB).
_NEIGHBOUR_CELLS = 1 << 22
# Fewest rows per one-hot group, on average, for SMOTENC's neighbour search to search by
# group: below, its Python loop over pairs of groups costs more than it saves (3,058 rows
# in 96 groups: 1.05 s by group, 0.16 s brute force; 8,963 rows: 1.0 s and 1.3 s).
_MIN_GROUP_ROWS = 64
# Factor on the rounding-error bound of squared distances (`_certified`): it covers
# the bound's second-order terms many times over.
_ERROR_SAFETY = 4.0


def _draw_samples(random_state, nns: np.ndarray, n_samples: int):
    """BaseSMOTE._make_samples' two draws, in the same order, from a fresh generator:
    each new sample's row, which of its neighbours, and the step towards it."""
    random_state = check_random_state(random_state)
    samples_indices = random_state.randint(low=0, high=nns.size, size=n_samples)
    steps = 1.0 * random_state.uniform(size=n_samples)[:, np.newaxis]
    rows = np.floor_divide(samples_indices, nns.shape[1])
    cols = np.mod(samples_indices, nns.shape[1])
    return rows, cols, steps


def interpolate_block(X_class, nns, rows, cols, steps, *, out: np.ndarray) -> None:
    """SMOTE's new rows for one block of draws, written into `out` (float64, len(rows) rows):
    `X[rows] + steps * (X[neighbours] - X[rows])`, one operation at a time. The streamed
    path (`tasks.tabular.streaming_smote`) calls it too, so both round alike."""
    out[:] = X_class[rows]
    diffs = X_class[nns[rows, cols]]
    diffs -= out
    diffs *= steps
    out += diffs


class VectorisedSMOTE(SMOTE):
    """imblearn's SMOTE, same output, writing into one preallocated array.

    imblearn's SMOTE copies the input, builds each class's samples with four full-size
    temporaries (`X[rows]`, the neighbours, the differences, the steps times them, and an
    `astype` copy), then stacks everything into a third array: about 5× the output at
    peak. Here the output is allocated once and filled a block of rows at a time, with the
    same arithmetic (float64 only: other dtypes run imblearn's code, whose intermediate
    float64 results an in-place update would round differently).
    """

    def _fit_resample(self, X, y):
        if sparse.issparse(X) or getattr(X, "dtype", None) != np.float64:
            return super()._fit_resample(X, y)
        self._validate_estimator()
        total = X.shape[0] + sum(self.sampling_strategy_.values())
        X_resampled = np.empty((total, X.shape[1]), dtype=X.dtype)
        X_resampled[: X.shape[0]] = X
        y_resampled = [y.copy()]
        offset = X.shape[0]
        for class_sample, X_class, nns, (rows, cols, steps) in self.class_draws(
            X, y, self.sampling_strategy_
        ):
            n_samples = rows.size
            for start in range(0, n_samples, _SMOTE_BLOCK_ROWS):
                block = slice(start, start + _SMOTE_BLOCK_ROWS)
                new = X_resampled[
                    offset + start : offset + min(start + _SMOTE_BLOCK_ROWS, n_samples)
                ]
                interpolate_block(X_class, nns, rows[block], cols[block], steps[block], out=new)
            offset += n_samples
            y_resampled.append(np.full(n_samples, fill_value=class_sample, dtype=y.dtype))
        return X_resampled, np.hstack(y_resampled)

    def class_draws(self, X, y, strategy):
        """Per class of `strategy` (class -> new rows) that gets rows: the class, its rows,
        their neighbours and the draws (`_draw_samples`). The in-memory and the streamed
        path (`tasks.tabular.streaming_smote`) both interpolate from these, so they make
        the same rows; `X` and `y` need only hold the classes of `strategy`."""
        for class_sample, n_samples in strategy.items():
            if n_samples == 0:
                continue
            X_class = _safe_indexing(X, np.flatnonzero(y == class_sample))
            self.nn_k_.fit(X_class)
            nns = self.nn_k_.kneighbors(X_class, return_distance=False)[:, 1:]
            yield class_sample, X_class, nns, _draw_samples(self.random_state, nns, n_samples)


class VectorisedSMOTENC(SMOTENC):
    """imblearn's SMOTENC, same parameters, output and fitted attributes, with vectorised
    category handling."""

    def _fit_resample(self, X, y):
        if (
            self.categorical_encoder is not None
            or sparse.issparse(X)
            # imblearn's fit_transform raises under pandas or polars output (sparse one-hot).
            or get_config()["transform_output"] != "default"
        ):
            return super()._fit_resample(X, y)
        self.n_features_ = _num_features(X)
        self._validate_column_types(X)
        self._validate_estimator()

        X_continuous = _safe_indexing(X, self.continuous_features_, axis=1)
        X_continuous = check_array(X_continuous, accept_sparse=["csr", "csc"])
        X_categorical = _safe_indexing(X, self.categorical_features_, axis=1)
        dtype_ohe = X_continuous.dtype if X_continuous.dtype.name != "object" else np.float64
        self.categorical_encoder_ = OneHotEncoder(handle_unknown="ignore", dtype=dtype_ohe)
        # The category codes of imblearn's one-hot matrix, without the matrix: imblearn
        # stacks every row's continuous and one-hot columns into one sparse matrix, but only
        # the rows of the classes to oversample are ever searched.
        codes = _category_codes(self.categorical_encoder_, X_categorical)
        n_categorical = codes.shape[1]
        offsets = np.cumsum([0] + [cats.size for cats in self.categorical_encoder_.categories_])
        n_continuous = self.continuous_features_.size
        # The dense continuous values as imblearn reads them back from its sparse matrix
        # (which stores no -0.0, so normalise it to 0.0).
        continuous = np.asarray(X_continuous, dtype=dtype_ohe)
        if continuous.dtype.kind == "f":
            continuous = continuous + continuous.dtype.type(0)

        # First pass without random draws: per-class matrices and the category weights, so
        # that a case needing imblearn's own code is found before any draw is made.
        self.median_std_ = {}
        classes = []
        for class_sample, n_samples in self.sampling_strategy_.items():
            if n_samples == 0:
                continue
            target_class_indices = np.flatnonzero(y == class_sample)
            X_class = _class_matrix(
                X_continuous[target_class_indices],
                codes[target_class_indices],
                offsets,
                dtype=dtype_ohe,
            )
            _, var = csr_mean_variance_axis0(X_class[:, :n_continuous])
            self.median_std_[class_sample] = np.median(np.sqrt(var))
            classes.append((class_sample, n_samples, target_class_indices, X_class))
        if not all(self._votes_are_counts(self.median_std_[c]) for c, *_ in classes):
            return super()._fit_resample(X, y)

        new_continuous, new_codes, new_labels = [], [], []
        for class_sample, n_samples, target_class_indices, X_class in classes:
            median_std = self.median_std_[class_sample]
            if math.isclose(median_std, 0):
                self._X_categorical_minority_encoded = X_class[:, n_continuous:].toarray()
            X_class_categorical = X_class[:, n_continuous:]
            X_class_categorical.data[:] = median_std / np.sqrt(2)
            X_class[:, n_continuous:] = X_class_categorical
            nns, _ = _class_neighbours(self.nn_k_, X_class, n_continuous=n_continuous)
            nns = nns[:, 1:]

            rows, cols, steps = _draw_samples(self.random_state, nns, n_samples)

            new_continuous.append(
                _interpolated(continuous[target_class_indices], nns, rows, cols, steps)
            )
            # SMOTENC._generate_samples: most voted category among the k neighbours, ties
            # broken by one permutation per feature drawn from a fresh generator.
            rng = check_random_state(self.random_state)
            class_codes = codes[target_class_indices]
            neighbours = np.take(nns, rows, axis=0)
            chosen = np.empty((n_samples, n_categorical), dtype=codes.dtype)
            for feature in range(n_categorical):
                votes = np.take(class_codes[:, feature], neighbours)
                chosen[:, feature] = _most_voted(votes, rng)
            new_codes.append(chosen)
            new_labels.append(np.full(n_samples, fill_value=class_sample, dtype=y.dtype))

        X_resampled = _resampled_matrix(
            [continuous, *new_continuous],
            [codes, *new_codes],
            self.categorical_encoder_.categories_,
            continuous_features=self.continuous_features_,
            categorical_features=self.categorical_features_,
        )
        return X_resampled, np.hstack([y.copy(), *new_labels])

    def _votes_are_counts(self, median_std: float) -> bool:
        """Whether imblearn's `isclose` on summed category weights equals comparing counts.

        Each neighbour adds the same weight (median_std / sqrt(2), or 1 when the median is
        0) to its category; with weights below about atol / (1 - rtol * k), `isclose`
        treats counts that differ by one as a tie, so imblearn's code must run.
        """
        if math.isclose(median_std, 0):
            return True
        weight = median_std / np.sqrt(2)
        k = self.nn_k_.n_neighbors if hasattr(self.nn_k_, "n_neighbors") else None
        if not isinstance(k, int) or not np.isfinite(weight):
            return False
        # Unequal counts differ by at least one weight; equal counts give sums equal to
        # within rounding (k additions), far inside rtol.
        margin = weight * (1 - 1e-9) - _ISCLOSE_RTOL * (k * weight * (1 + 1e-9))
        return margin > 2 * _ISCLOSE_ATOL


def _interpolated(X_class: np.ndarray, nns: np.ndarray, rows, cols, steps) -> np.ndarray:
    """SMOTE's new rows, `X[rows] + steps * (X[neighbours] - X[rows])`, element for element.

    imblearn computes this on its sparse matrix, with the same roundings element for
    element; neither side yields -0.0 (the inputs hold none, a sparse result drops exact
    zeros, and an exact zero sum is +0.0). For float64 it runs in place, gathering with
    `np.take` (a third of fancy indexing's time on 940k rows); other dtypes take the
    expression as written, whose float64 intermediate results an in-place update would
    round to the dtype.
    """
    if X_class.dtype != np.float64:
        diffs = X_class[nns[rows, cols]] - X_class[rows]
        return (X_class[rows] + steps * diffs).astype(X_class.dtype)
    new = np.take(X_class, rows, axis=0)
    diffs = np.take(X_class, nns[rows, cols], axis=0)
    diffs -= new
    diffs *= steps
    new += diffs
    return new


def _category_codes(encoder: OneHotEncoder, X_categorical) -> np.ndarray:
    """`encoder.fit(X_categorical)`, then the category of each value as `transform` finds it.

    Row i, feature f of the result is the index in `encoder.categories_[f]` of the one
    column that `encoder.transform(X_categorical)` sets in row i for feature f (every
    value was seen in fit, so there is exactly one). sklearn maps object and bool values
    through a dict, one Python lookup per value (0.8 s for 1M rows × 3 columns); here
    pandas groups equal values first (a C hash table) and sklearn's own dict maps one
    value of each group. pandas groups by `==` and hash, as a dict does; its missing
    values (None, NaN, NaT, ...) form no group and go through sklearn's mapping one by one.
    Other dtypes go through sklearn's mapping as they are.
    """
    import pandas as pd

    encoder.fit(X_categorical)
    # The columns exactly as fit and transform see them (a DataFrame's, one at a time).
    columns, n_rows, _ = encoder._check_X(X_categorical, ensure_all_finite="allow-nan")
    codes = np.empty((n_rows, len(columns)), dtype=np.intp)
    for feature, (values, categories) in enumerate(zip(columns, encoder.categories_, strict=True)):
        if values.dtype.kind in "Ob":
            groups, representatives = pd.factorize(values)
            if representatives.size:
                codes[:, feature] = _encode(representatives, uniques=categories)[groups]
            missing = np.flatnonzero(groups < 0)
            if missing.size:
                codes[missing, feature] = _encode(values[missing], uniques=categories)
        else:
            codes[:, feature] = _encode(values, uniques=categories, check_unknown=False)
    return codes


def _class_matrix(continuous: np.ndarray, codes: np.ndarray, offsets: np.ndarray, *, dtype):
    """One class's rows of imblearn's `sparse.hstack((X_continuous, X_ohe))`, built alone.

    The same call on the class's rows only, so the same CSR matrix: values, stored
    entries (zeros of the continuous columns dropped), index order and dtypes (scipy's
    int32 indices, where imblearn's matrix of all rows would need int64 only past 2^31
    stored entries).

    Args:
        continuous: the class's rows of the checked continuous columns.
        codes: the class's category codes (`_category_codes`).
        offsets: each feature's first one-hot column, and the total, (n_features + 1,).
        dtype: imblearn's `dtype_ohe`.
    """
    n_rows, n_categorical = codes.shape
    one_hot = sparse.csr_matrix(
        (
            np.ones(n_rows * n_categorical, dtype=dtype),
            (codes + offsets[:-1]).ravel(),
            np.arange(0, n_rows * n_categorical + 1, n_categorical),
        ),
        shape=(n_rows, int(offsets[-1])),
    )
    return sparse.hstack((continuous, one_hot), format="csr", dtype=dtype)


def _resampled_matrix(
    continuous: list[np.ndarray],
    codes: list[np.ndarray],
    categories: list[np.ndarray],
    *,
    continuous_features: np.ndarray,
    categorical_features: np.ndarray,
) -> np.ndarray:
    """imblearn's output from blocks of rows: continuous values and category codes.

    imblearn decodes the categories (`inverse_transform`: `categories_[f][code]` cast to
    the categories' common dtype), stacks them after the continuous columns with
    `np.hstack` and puts the columns back in the input's order with fancy indexing: three
    full copies, each casting or copying every cell of what is, for string categories, an
    object matrix. When the result is an object matrix, each block is written here once,
    straight into its final columns, with the same casts (continuous dtype to object,
    a category's dtype to the common dtype to object).

    Args:
        continuous: blocks of rows of the continuous columns, in imblearn's dtype_ohe.
        codes: the same blocks of rows' category codes.
        categories: the encoder's `categories_`.
        continuous_features, categorical_features: where imblearn puts each column.
    """
    decoded_dtype = np.result_type(*[values.dtype for values in categories])
    columns = np.concatenate([continuous_features, categorical_features])
    n_columns = columns.size
    if decoded_dtype.kind != "O" or not np.array_equal(np.sort(columns), np.arange(n_columns)):
        # Numeric results are cheap to stack; repeated categorical columns (imblearn then
        # returns more columns than it was given) keep imblearn's own steps.
        all_codes = np.vstack(codes)
        decoded = np.empty((all_codes.shape[0], len(categories)), dtype=decoded_dtype)
        for feature, values in enumerate(categories):
            decoded[:, feature] = values[all_codes[:, feature]]
        return np.hstack((np.vstack(continuous), decoded))[:, np.argsort(columns)]
    n_rows = sum(block.shape[0] for block in continuous)
    X_resampled = np.empty((n_rows, n_columns), dtype=object)
    start = 0
    for continuous_block, codes_block in zip(continuous, codes, strict=True):
        rows = slice(start, start + continuous_block.shape[0])
        for position, column in enumerate(continuous_features):
            X_resampled[rows, column] = continuous_block[:, position]
        for feature, column in enumerate(categorical_features):
            decoded = categories[feature][codes_block[:, feature]]
            X_resampled[rows, column] = decoded.astype(object, copy=False)
        start = rows.stop
    return X_resampled


def _class_neighbours(
    nn, X_class, *, n_continuous: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`nn.fit(X_class)`, then `nn.kneighbors(X_class, return_distance=False)`'s indices.

    sklearn searches a sparse matrix by brute force, slowly (most of SMOTENC's time at 1M
    rows). When `nn` is a NearestNeighbors that sklearn runs as brute-force squared
    euclidean, the nearest rows are found here on the dense matrix with BLAS
    (`_nearest_candidates`, which skips rows whose one-hot columns alone put them too far),
    and a row keeps that answer only where the rounding errors of both computations
    provably cannot change the order of its neighbours (`_certified`); sklearn's own
    search answers the other rows. `nn` is left fitted on `X_class`, as imblearn leaves it.

    Args:
        nn: imblearn's `nn_k_`.
        X_class: one class's rows, CSR.
        n_continuous: the leading columns that are not one-hot (all when None).

    Returns:
        The indices, and the rows that sklearn's own search answered (all rows when the
        dense search does not apply).
    """
    nn.fit(X_class)
    n_rows = X_class.shape[0]
    if not _dense_search_applies(nn, X_class):
        return nn.kneighbors(X_class, return_distance=False), np.arange(n_rows)
    dense = X_class.toarray()  # the same float64 values
    norms = np.einsum("ij,ij->i", dense, dense)
    if not (np.all(np.isfinite(norms)) and norms.max() < np.finfo(np.float64).max / 8):
        return nn.kneighbors(X_class, return_distance=False), np.arange(n_rows)
    # One candidate beyond the k + 1 that sklearn returns certifies the set's boundary.
    n_neighbors = nn.n_neighbors
    n_candidates = min(n_neighbors + 1, n_rows)
    if n_continuous is None:
        n_continuous = dense.shape[1]
    # Many small products: BLAS threads cost more to wake than they save (5× slower on two
    # busy cores). The limit is process-wide while it lasts.
    with threadpool_limits(limits=1, user_api="blas"):
        candidates, distances = _nearest_candidates(dense, n_candidates, n_continuous=n_continuous)
    neighbours = candidates[:, :n_neighbors]
    fallback = np.flatnonzero(~_certified(distances, norms, dense.shape[1]))
    if fallback.size:
        neighbours[fallback] = _sklearn_rows(nn, X_class, fallback)
    return neighbours, fallback


def _nearest_candidates(dense: np.ndarray, n_candidates: int, *, n_continuous: int):
    """Each row's `n_candidates` nearest rows (itself included) and squared distances.

    Rows are grouped by their one-hot columns. Between two groups those columns add the
    same `penalty` to every squared distance, so a query row's squared distances to a
    group are its continuous columns' ones (one BLAS product) plus that penalty; groups
    are visited by increasing penalty, and a group whose penalty exceeds a row's current
    last candidate is skipped for that row (for SMOTENC's matrix, most of them). Without
    one-hot columns, or when their groups are smaller than `_MIN_GROUP_ROWS` on average,
    all rows form one group: blocked brute force.

    Returns:
        Indices and squared distances, both n_rows × n_candidates, sorted by distance.
    """
    n_rows, n_features = dense.shape
    group = np.zeros(n_rows, dtype=np.intp)
    if n_continuous < n_features:
        _, inverse = np.unique(dense[:, n_continuous:], axis=0, return_inverse=True)
        if (inverse.max() + 1) * _MIN_GROUP_ROWS <= n_rows:
            group = inverse.ravel()
    if group.max() == 0:
        n_continuous = n_features
    continuous = np.ascontiguousarray(dense[:, :n_continuous])
    continuous_norms = np.einsum("ij,ij->i", continuous, continuous)
    order = np.argsort(group, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(group))[:-1])
    patterns = dense[[rows[0] for rows in members], n_continuous:]
    # The penalties are the one-hot part of every squared distance between two groups to
    # within their rounding (relative γ_{t+3}, `_certified`); shrunk by more than that,
    # they are lower bounds on those distances.
    shrink = 1 - _ERROR_SAFETY * (2 * n_features + 10) * np.finfo(np.float64).eps
    block_rows = max(1, _NEIGHBOUR_CELLS // max(rows.size for rows in members))
    candidates = np.empty((n_rows, n_candidates), dtype=np.intp)
    distances = np.empty((n_rows, n_candidates), dtype=np.float64)
    for pattern, rows_of_group in zip(patterns, members, strict=True):
        penalties = np.einsum("ij,ij->i", patterns - pattern, patterns - pattern)
        nearest_groups = np.argsort(penalties, kind="stable")
        for start in range(0, rows_of_group.size, block_rows):
            rows = rows_of_group[start : start + block_rows]
            best = np.full((rows.size, n_candidates), np.inf)
            best_rows = np.zeros((rows.size, n_candidates), dtype=np.intp)
            for other in nearest_groups:
                penalty = penalties[other]
                active = np.flatnonzero(penalty * shrink < best[:, -1])
                if active.size == 0:
                    break  # the later groups are farther still
                columns = members[other]
                block = (-2.0 * continuous[rows[active]]) @ continuous[columns].T
                block += continuous_norms[columns]
                block += (continuous_norms[rows[active]] + penalty)[:, None]
                _merge_candidates(best, best_rows, active, block, columns)
            distances[rows] = best
            candidates[rows] = best_rows
    return candidates, distances


def _merge_candidates(best, best_rows, active, block, columns) -> None:
    """Keep in rows `active` of `best` (sorted) the smallest of theirs and `block`'s."""
    n_candidates = best.shape[1]
    improves = block.min(axis=1) < best[active, -1]
    if not improves.any():
        return
    active, block = active[improves], block[improves]
    if block.shape[1] > n_candidates:
        part = np.argpartition(block, n_candidates - 1, axis=1)[:, :n_candidates]
        block, block_rows = np.take_along_axis(block, part, axis=1), columns[part]
    else:
        block_rows = np.broadcast_to(columns, block.shape)
    merged = np.hstack([best[active], block])
    merged_rows = np.hstack([best_rows[active], block_rows])
    keep = np.argsort(merged, axis=1, kind="stable")[:, :n_candidates]
    best[active] = np.take_along_axis(merged, keep, axis=1)
    best_rows[active] = np.take_along_axis(merged_rows, keep, axis=1)


def _dense_search_applies(nn, X_class) -> bool:
    """Whether sklearn's answer is brute-force squared euclidean on these CSR rows, a row
    at a time (so that `_sklearn_rows` can ask it for some rows only)."""
    if not (
        type(nn) is NearestNeighbors
        and sparse.issparse(X_class)
        and X_class.format == "csr"
        and X_class.dtype == np.float64
        # Stored duplicates would enter sklearn's row norms as separate squares.
        and X_class.has_canonical_format
        and isinstance(nn.n_neighbors, numbers.Integral)
        # Otherwise kneighbors raises its own error.
        and 1 <= nn.n_neighbors <= X_class.shape[0]
        and getattr(nn, "_fit_method", None) == "brute"
        and isinstance(nn.effective_metric_, str)
        and nn.effective_metric_ == "euclidean"
    ):
        return False
    try:
        from sklearn.metrics._pairwise_distances_reduction import ArgKmin
    except ImportError:
        return False
    # sklearn 1.9 keeps sparse-sparse euclidean off its Cython ArgKmin (whose heaps merge
    # per-thread chunks, so ties could depend on how many rows are asked for) and
    # reduces `pairwise_distances_chunked` rows with argpartition + argsort instead.
    return not ArgKmin.is_usable_for(X_class, nn._fit_X, nn.effective_metric_)


def _certified(distances: np.ndarray, norms: np.ndarray, n_features: int) -> np.ndarray:
    """Rows whose neighbours in sklearn's order are those of `distances`' columns.

    `distances[i]` holds `_nearest_candidates`' squared distances from query row x = i to
    its candidate rows y, sorted; `norms[i]` is x's computed ||x||². Write a = ||x||²,
    b = ||y||², p = x·y and d = a - 2p + b, exactly, for the stored float64 values, and
    u = 2^-53, m = n_features; a_c, b_c, p_c are the same over the continuous columns.

    Error of each computed distance. A sum of s products in any order (BLAS blocking or
    FMA; sklearn's sparse loop over at most m stored entries) is within γ_s Σ|x_j y_j| ≤
    γ_s (a + b) / 2 of p, with γ_s = s u / (1 - s u), and a computed ||x||² within γ_s a.
    sklearn adds -2p̂ (exact), â and b̂ with two roundings, relative u, on sums of at
    most (2a + b) and (2a + 2b) to first order; max(·, 0) keeps the error, as d ≥ 0: at
    most 2γ_m (a + b) + 4u (a + b). Ours adds -2p̂_c + b̂_c (BLAS over the s continuous
    columns) and â_c + ĥ, where ĥ, the one-hot columns' squared differences, is within
    γ_{t+3} h ≤ 2γ_{t+3} (a + b) of h for their t = m - s columns; three roundings on at
    most 4 (a + b) in all: 2γ_s (a + b) + 2γ_{t+3} (a + b) + 4u (a + b). Both are at most
    K (a + b) with K = (2m + 10) u, to first order. As ||y|| ≤ ||x|| + ||x - y||,
    b ≤ 2a + 2d: each error is at most δ(d) = K (3a + 2d), which grows with d at a rate
    2K ≪ 1. Subnormal results add at most 2^-1075 per operation, under (4m + 8) 2^-1074
    per distance in all.

    Certificate. Let c_1 ≤ ... ≤ c_n be our sorted distances (candidates j_1, ..., j_n)
    and D = c_n. If every gap c_{t+1} - c_t exceeds 4δ(D), true distances of consecutive
    candidates differ by more than 2δ(D) and sklearn's by more than 0: its order of the
    candidates is strict and equals ours. A row y outside the candidates either has our
    distance at least c_n, so d_y ≥ D - δ(d_y), or was skipped because its one-hot part
    alone is at least D (`_nearest_candidates`); sklearn's distance to it is at least
    d_y - δ(d_y), and these bounds grow with d_y, so it is at least D - 2δ(D), while its
    distance to j_{n-1} is at most c_{n-1} + 2δ(D) < D - 2δ(D): sklearn's first n - 1
    are ours. The safety factor on δ covers the second-order terms (in K²) many times
    over. Exact duplicates (gap 0) and near-ties fail.
    """
    u = np.finfo(np.float64).eps / 2
    k_error = (2 * n_features + 10) * u
    tiny = (4 * n_features + 8) * np.finfo(np.float64).smallest_subnormal
    largest = np.maximum(distances[:, -1], 0.0)
    delta = _ERROR_SAFETY * (k_error * (3 * norms + 2 * largest) + tiny)
    gaps = np.diff(distances, axis=1)
    # NaN gaps or bounds compare False: not certified.
    return np.all(gaps > 4 * delta[:, None], axis=1)


def _sklearn_rows(nn, X_class, rows: np.ndarray) -> np.ndarray:
    """Rows `rows` of `nn.kneighbors(X_class, return_distance=False)`, asking for them only.

    sklearn computes each query row's squared distances from that row alone (scipy's
    sparse product sums a row's products in its own storage order; the row norms are
    per row) and reduces each row on its own, so a subset's answer is the full answer's
    rows. The exception: when kneighbors' query is the very matrix it was fitted on,
    `pairwise_distances_chunked` sets each row's distance to itself to 0; `fit` copies
    the matrix (sklearn 1.9), but where it does not, the full query runs.
    """
    if getattr(nn, "_fit_X", None) is X_class:
        return nn.kneighbors(X_class, return_distance=False)[rows]
    return nn.kneighbors(X_class[rows], return_distance=False)


def _most_voted(votes: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """For each row of category codes, the most frequent one; ties broken as imblearn does.

    imblearn lists every (row, category) pair at the maximum in row-major order, permutes
    that list with `rng.permutation` and keeps each row's first pair. The same permutation
    (`rng.permutation(n)` consumes the generator exactly as permuting an n-row array) picks
    the same pair here, without the dense neighbour array or the LIL matrix. Counts come
    from runs of equal codes in each row sorted: a row's k votes, not a count per category,
    so the work does not grow with the number of categories.
    """
    n_rows, k = votes.shape
    ordered = np.sort(votes, axis=1).ravel()
    starts = np.empty(ordered.size, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    starts[::k] = True  # every row starts a run, even on its predecessor's last code
    run_starts = np.flatnonzero(starts)
    lengths = np.diff(run_starts, append=ordered.size)
    run_rows = run_starts // k
    # Runs are in row order and each row has at least one: its first run is where it starts.
    longest = np.maximum.reduceat(lengths, np.flatnonzero(run_starts % k == 0))
    at_max = lengths == longest[run_rows]
    # Pairs in row-major order, as np.argwhere lists them: by row, then by code.
    rows, cols = run_rows[at_max], ordered[run_starts[at_max]]
    permutation = rng.permutation(rows.size)
    if rows.size == n_rows:  # no ties: one pair per row
        return cols
    position = np.empty(rows.size, dtype=np.intp)
    position[permutation] = np.arange(rows.size)
    first_pairs = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    first = np.minimum.reduceat(position, first_pairs)
    return cols[permutation[first]]


class VectorisedSMOTEN(SMOTEN):
    """imblearn's SMOTEN, same parameters and output, with a table-driven VDM and mode."""

    def _fit_resample(self, X, y):
        if (
            self.categorical_encoder is not None
            or sparse.issparse(X)
            or not isinstance(self.k_neighbors, int)
        ):
            return super()._fit_resample(X, y)
        from imblearn.metrics.pairwise import ValueDifferenceMetric

        self._validate_estimator()
        self.categorical_encoder_ = OrdinalEncoder(dtype=np.int32)
        X_encoded = self.categorical_encoder_.fit_transform(X)
        n_values = [len(cat) for cat in self.categorical_encoder_.categories_]
        vdm = ValueDifferenceMetric(n_categories=n_values).fit(X_encoded, y)
        tables = vdm_tables(vdm.proba_per_class_, k=vdm.k, r=vdm.r)
        new = self.new_samples(X_encoded, y, self.sampling_strategy_, tables=tables)
        if new is None:
            return super()._fit_resample(X, y)  # imblearn raises its own error
        X_new, y_new = new
        return np.vstack([X.copy(), *X_new]), np.hstack([y.copy(), *y_new])

    def new_samples(self, X_encoded, y, strategy, *, tables):
        """The new rows of each class in `strategy` (class -> count), decoded, and their
        labels; None when a class has fewer rows than `nn_k_` asks (imblearn's error).

        `X_encoded` and `y` need only hold the rows of the classes in `strategy` (each class
        draws from a fresh generator): the streamed path passes those rows, with `tables`
        from counts over every row (`vdm_probabilities`).
        """
        n_values = [len(cat) for cat in self.categorical_encoder_.categories_]
        X_new, y_new = [], []
        for class_sample, n_samples in strategy.items():
            if n_samples == 0:
                continue
            target_class_indices = np.flatnonzero(y == class_sample)
            X_class = _safe_indexing(X_encoded, target_class_indices)
            if self.nn_k_.n_neighbors > X_class.shape[0]:
                return None
            nn_indices = _nearest_by_tables(X_class, tables, self.nn_k_.n_neighbors)
            X_class_new, y_class_new = self._make_samples(
                X_class, class_sample, y.dtype, nn_indices, n_samples, n_values=n_values
            )
            X_new.append(self.categorical_encoder_.inverse_transform(X_class_new))
            y_new.append(y_class_new)
        return X_new, y_new

    def _make_samples(self, X_class, klass, y_dtype, nn_indices, n_samples, n_values=None):
        if n_values is None:
            return super()._make_samples(X_class, klass, y_dtype, nn_indices, n_samples)
        random_state = check_random_state(self.random_state)
        samples_indices = random_state.choice(
            np.arange(X_class.shape[0]), size=n_samples, replace=True
        )
        neighbours = nn_indices[samples_indices]
        X_new = np.empty((n_samples, X_class.shape[1]), dtype=X_class.dtype)
        for feature, size in enumerate(n_values):
            # scipy.stats.mode: the most frequent value, the smallest one among ties.
            votes = X_class[:, feature][neighbours]
            X_new[:, feature] = _mode(votes, size)
        y_new = np.full(n_samples, fill_value=klass, dtype=y_dtype)
        return X_new, y_new


def vdm_tables(proba_per_class, *, k, r) -> list[np.ndarray]:
    """The VDM between two samples sums, per feature, a distance that depends only on their
    two categories: computed once per pair of categories, with the same scipy call imblearn
    applies to every pair of samples."""
    return [distance_matrix(proba, proba, p=k) ** r for proba in proba_per_class]


def vdm_probabilities(counts: list[np.ndarray]) -> list[np.ndarray]:
    """ValueDifferenceMetric's `proba_per_class_` from its counts (per feature: categories
    × classes in sorted order, as floats), with imblearn's arithmetic; for counts made by a
    streaming query instead of `fit` on every row."""
    probabilities = []
    with np.errstate(invalid="ignore"):
        for count in counts:
            proba = np.array(count, dtype=np.float64)
            proba /= proba.sum(axis=1).reshape(-1, 1)
            np.nan_to_num(proba, copy=False)
            probabilities.append(proba)
    return probabilities


def _nearest_by_tables(codes: np.ndarray, tables: list[np.ndarray], n_neighbors: int):
    """imblearn's VDM + NearestNeighbors(metric="precomputed"), a block of rows at a time.

    imblearn builds the whole n × n distance matrix (7 GB at 30,000 rows of a class);
    sklearn's brute-force search reduces it row by row with `argpartition` then `argsort`
    (`_kneighbors_reduce_func`), so computing the same rows in blocks and reducing each
    block the same way gives the same neighbours, ties included.
    """
    n_rows = codes.shape[0]
    block = max(1, _DISTANCE_CELLS // max(n_rows, 1))
    result = np.empty((n_rows, n_neighbors), dtype=np.intp)
    for start in range(0, n_rows, block):
        rows = codes[start : start + block]
        dist = np.zeros((rows.shape[0], n_rows), dtype=np.float64)
        for feature, table in enumerate(tables):
            dist += table[rows[:, feature][:, None], codes[:, feature][None, :]]
        sample_range = np.arange(dist.shape[0])[:, None]
        neigh_ind = np.argpartition(dist, n_neighbors - 1, axis=1)[:, :n_neighbors]
        neigh_ind = neigh_ind[sample_range, np.argsort(dist[sample_range, neigh_ind])]
        result[start : start + block] = neigh_ind
    return result


def _mode(votes: np.ndarray, n_values: int) -> np.ndarray:
    """Per row, the most frequent code; the smallest code among ties (argmax's first)."""
    chunk = max(1, _VOTE_CELLS // max(n_values, 1))
    result = np.empty(votes.shape[0], dtype=np.intp)
    for start in range(0, votes.shape[0], chunk):
        block = votes[start : start + chunk]
        flat = (np.arange(block.shape[0])[:, None] * n_values + block).ravel()
        counts = np.bincount(flat, minlength=block.shape[0] * n_values)
        result[start : start + chunk] = counts.reshape(block.shape[0], n_values).argmax(axis=1)
    return result

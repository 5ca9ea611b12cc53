"""The key hash of `split.method: hash`: fixed arithmetic, so it never changes with a library."""

import numpy as np
import polars as pl
import pytest

from tasks.run.keyhash import key_hash, splitmix64, unit_interval

MASK = 2**64 - 1


def _splitmix(value: int) -> int:
    # The reference, in plain Python integers.
    z = (value + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _string_hash(text: str) -> int:
    polynomial = 0
    for byte in text.encode():
        polynomial = (polynomial * 0x100000001B3 + byte + 1) & MASK
    return _splitmix(polynomial ^ _splitmix(len(text.encode())))


def _one_column_key(value_hash: int) -> int:
    return _splitmix(0x6B65796861736831 ^ value_hash)


def test_strings_and_integers_hash_as_the_plain_python_reference_says():
    texts = ["", "a", "Approved", "héllo wörld", "x" * 300]
    numbers = [0, 1, -1, 2**40, -(2**63)]

    text_hashes = key_hash(pl.DataFrame({"t": texts}))
    number_hashes = key_hash(pl.DataFrame({"n": numbers}))

    assert text_hashes.tolist() == [_one_column_key(_string_hash(text)) for text in texts]
    assert number_hashes.tolist() == [_one_column_key(_splitmix(n & MASK)) for n in numbers]


def test_golden_values_stay_fixed():
    # Changing one moves rows of every hash split already published: only ever on purpose.
    frame = pl.DataFrame({"id": ["L00001", "L00002"], "amount": [120, 75]})

    hashes = key_hash(frame)

    assert [f"{value:016x}" for value in hashes] == ["15a4bb54b7307b67", "cef9a09407699500"]
    assert f"{key_hash(pl.DataFrame({'n': [7]}))[0]:016x}" == "9b039c257eb6699c"
    assert unit_interval(hashes, seed=42).round(9).tolist() == [0.012037052, 0.497475338]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (pl.Series([3, -2, 0], dtype=pl.Int64), pl.Series([3.0, -2.0, -0.0])),
        (pl.Series([3, 5], dtype=pl.UInt32), pl.Series([3, 5], dtype=pl.Int16)),
        (pl.Series(["a", "b"], dtype=pl.Categorical), pl.Series(["a", "b"])),
        (pl.Series([float("nan"), 0.0]), pl.Series([-float("nan"), -0.0])),
    ],
)
def test_a_value_read_as_another_dtype_keeps_its_hash(first, second):
    assert key_hash(first.to_frame("k")).tolist() == key_hash(second.to_frame("k")).tolist()


def test_different_values_and_nulls_hash_apart():
    frame = pl.DataFrame({"k": ["0", "", None, "a", "b", "ab", "ba"]})
    numbers = pl.DataFrame({"k": [0.0, 0.5, None, 1e300, -0.5]})

    assert len(set(key_hash(frame).tolist())) == frame.height
    assert len(set(key_hash(numbers).tolist())) == numbers.height


def test_a_row_hashes_alike_in_a_slice_a_concatenation_and_a_batch():
    frame = pl.DataFrame({"t": [f"text {i}" for i in range(50)], "n": range(50)})

    whole = key_hash(frame)
    halves = np.concatenate([key_hash(frame[:20]), key_hash(frame[20:])])
    chunked = key_hash(pl.concat([frame[:7], frame[7:]], rechunk=False))

    assert whole.tolist() == halves.tolist() == chunked.tolist()


def test_column_order_and_the_seed_change_the_positions():
    frame = pl.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    hashes = key_hash(frame)

    assert key_hash(frame.select("b", "a")).tolist() != hashes.tolist()
    assert unit_interval(hashes, seed=1).tolist() != unit_interval(hashes, seed=2).tolist()


def test_positions_are_uniform_on_the_unit_interval():
    hashes = key_hash(pl.DataFrame({"id": [f"row-{i}" for i in range(20_000)]}))

    positions = unit_interval(hashes, seed=0)

    histogram = np.histogram(positions, bins=10, range=(0, 1))[0]
    assert positions.min() >= 0 and positions.max() < 1
    # 2,000 per bin expected; 4 standard deviations of a binomial(20,000, 0.1) is 170.
    assert np.abs(histogram - 2000).max() < 170


def test_splitmix_of_an_array_is_the_reference_value_by_value():
    values = np.array([0, 1, 2**63, MASK], dtype=np.uint64)

    assert splitmix64(values).tolist() == [_splitmix(int(v)) for v in values]

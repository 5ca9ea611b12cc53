"""A 64-bit hash of each sample's key that stays the same across runs, machines and versions.

`split.method: hash` places a sample by the hash of its key, so the hash must not change when
polars, numpy or Python does: polars' own `hash` and `hash_rows` promise stability only
within one polars version, and Python's `hash` of a string changes per process. This module
hashes the key's values itself, with fixed arithmetic on numpy `uint64` (which wraps):

- integers, booleans, dates and times (their physical integer) hash their int64 value;
  a float with an integral value hashes like that integer, so a column read as Int64 one night
  and as Float64 the next (a CSV that gained a `1.5`) keeps its keys; other floats hash their
  IEEE-754 bits (-0.0 is 0; every NaN is one value);
- strings (and categoricals, enums, binary) hash their UTF-8 bytes with a polynomial
  over 2^64; other types are hashed as their polars string form;
- a null is one fixed value; each value goes through splitmix64, and the columns are
  chained in order.

`key_hash` of a frame of key columns gives one uint64 per row; `unit_interval` turns it and
the seed into a position in [0, 1).
"""

from __future__ import annotations

import numpy as np
import polars as pl

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
# Odd base of the string polynomial, and the tags that keep kinds of values apart.
_BASE = np.uint64(0x100000001B3)
_NULL = np.uint64(0x6E756C6C6E756C6C)
_FLOAT = np.uint64(0x666C6F6174626974)
_START = np.uint64(0x6B65796861736831)
_INTEGRAL = 2.0**63
_SLICE_ROWS = 65_536


def splitmix64(values: np.ndarray, /) -> np.ndarray:
    """The splitmix64 finaliser of each uint64 (Steele, Lea and Flood 2014)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        return z ^ (z >> np.uint64(31))


def key_hash(keys: pl.DataFrame, /) -> np.ndarray:
    """One uint64 per row from the values of every column of `keys`, in column order."""
    combined = np.full(keys.height, _START, dtype=np.uint64)
    for column in keys.get_columns():
        combined = splitmix64(combined ^ _column_hash(column))
    return combined


def unit_interval(hashes: np.ndarray, /, *, seed: int) -> np.ndarray:
    """Each key's position in [0, 1) for this seed: uniform, and a function of both alone."""
    salt = splitmix64(np.array([seed], dtype=np.uint64))
    mixed = splitmix64(hashes ^ salt)
    return (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _column_hash(column: pl.Series) -> np.ndarray:
    dtype = column.dtype
    if dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        column = column.cast(pl.String)
    elif dtype == pl.Decimal:
        column = column.cast(pl.Float64)
    elif dtype.is_temporal() or dtype == pl.Boolean:
        column = column.to_physical().cast(pl.Int64)
    elif not (dtype.is_numeric() or dtype in (pl.String, pl.Binary, pl.Null)):
        column = column.cast(pl.String)
    nulls = column.is_null().to_numpy()
    if column.dtype == pl.Null:
        hashed = np.zeros(column.len(), dtype=np.uint64)
    elif column.dtype.is_float():
        hashed = _float_hash(column.fill_null(0).to_numpy().astype(np.float64))
    elif column.dtype.is_integer():
        hashed = splitmix64(_int_bits(column.fill_null(0)))
    else:
        values = column.cast(pl.Binary).fill_null(b"")
        # In slices: the hash holds about 30 bytes of scratch per byte of text.
        slices = [values.slice(at, _SLICE_ROWS) for at in range(0, values.len(), _SLICE_ROWS)]
        hashed = np.concatenate([np.zeros(0, dtype=np.uint64), *map(_bytes_hash, slices)])
    return np.where(nulls, _NULL, hashed)


def _int_bits(column: pl.Series) -> np.ndarray:
    # Same bits for the same number whether the column is signed or unsigned.
    if column.dtype in (pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64):
        return column.cast(pl.UInt64).to_numpy()
    return column.cast(pl.Int64).to_numpy().view(np.uint64)


def _float_hash(values: np.ndarray) -> np.ndarray:
    integral = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < _INTEGRAL)
    as_int = np.where(integral, values, 0).astype(np.int64).view(np.uint64)
    canonical = np.where(np.isnan(values), np.nan, values + 0.0)  # -0.0 + 0.0 is 0.0
    bits = canonical.view(np.uint64) ^ _FLOAT
    return splitmix64(np.where(integral, as_int, bits))


def _bytes_hash(column: pl.Series) -> np.ndarray:
    """sum((byte + 1) * BASE**(n - 1 - i)) mod 2^64 over a value's n bytes, then n mixed in."""
    # large_binary: one buffer of bytes and int64 offsets, whatever the polars version.
    array = column.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    offsets = offsets[array.offset : array.offset + len(array) + 1]
    start, end = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    data = np.zeros(0, dtype=np.uint8)
    if data_buffer is not None:
        data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    lengths = end - start
    longest = int(lengths.max(initial=0))
    with np.errstate(over="ignore"):
        # BASE**0 .. BASE**(longest - 1), mod 2^64.
        powers = np.cumprod(np.full(longest, _BASE, dtype=np.uint64), dtype=np.uint64)
        powers = np.concatenate([np.ones(1, np.uint64), powers[:-1]])
        # Each byte's distance from the end of its value picks its power of BASE.
        owner = np.repeat(np.arange(lengths.size), lengths)
        from_end = end[owner] - 1 - np.arange(data.size)
        terms = (data.astype(np.uint64) + np.uint64(1)) * powers[from_end]
        sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(terms, dtype=np.uint64)])
        polynomial = sums[end] - sums[start]
    return splitmix64(polynomial ^ splitmix64(lengths.astype(np.uint64)))

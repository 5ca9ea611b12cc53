"""The per-column work of a run on a wide table takes time in proportion to its size.

Each of these once built the frame's whole schema (`DataFrame.schema` is built on each
access), scanned a list, or ran a polars pass for every column: quadratic, or a large
constant per column (the identity hash of 300 × 1,000 took 16 s, the profile of 300 ×
5,000 56 s). The null check's share of this is in tests/checks/test_wide_null_check.py.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

from tasks.core.columns import Columns
from tasks.core.conflicts import table_identity
from tasks.core.tables import select_columns
from tasks.run.profile import profile_frame
from tasks.tabular.kinds import feature_kinds, kind_notes
from tasks.tabular.sampler_setup import object_matrix, positions
from validations.tabular import _infinite_counts


def _wide(rows: int, width: int) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({f"f{i:05d}": rng.normal(size=rows) for i in range(width)})
    return frame.with_columns(
        pl.Series("code", [i % 3 for i in range(rows)]),
        pl.Series("colour", ["red", "blue"] * (rows // 2)),
        pl.Series("label", [i % 2 for i in range(rows)]),
    )


def _per_column_steps(frame: pl.DataFrame, tmp_path) -> dict:
    """What a run does column by column on a table, ingest to rebalance."""
    kept, columns = select_columns(
        frame,
        label="label",
        features=None,
        id_column=None,
        group_column=None,
        source=tmp_path / "wide.csv",
        categorical=["code"],
    )
    numeric, categorical = feature_kinds(kept, columns)
    return {
        "columns": columns,
        "kinds": (numeric, categorical),
        "infinite": _infinite_counts(kept, columns),
        "notes": kind_notes(kept, numeric, sampler="SMOTE"),
        "identity": table_identity(kept, columns.features),
        "profile": profile_frame(
            kept, columns=columns, null_counts={}, rows_read=kept.height, bins=10
        ),
        "matrix": object_matrix(kept, columns.features, numeric),
        "positions": positions(categorical, columns.features),
    }


def test_a_3000_column_tables_per_column_steps_take_seconds_not_minutes(tmp_path):
    frame = _wide(50, 3_000)
    # Row 1 again as row 0: equal features, equal identity.
    frame = pl.concat([frame[1:2], frame[1:]])

    started = time.perf_counter()
    found = _per_column_steps(frame, tmp_path)
    seconds = time.perf_counter() - started

    columns: Columns = found["columns"]
    numeric, categorical = found["kinds"]
    assert len(numeric) == 3_000 and categorical == ["code", "colour"]
    assert found["infinite"] == {}
    assert found["positions"] == [3_000, 3_001]
    identity = found["identity"]
    assert identity[0] == identity[1] and identity.n_unique() == 49
    assert len(found["profile"]["numeric"]) == 3_000
    assert found["profile"]["numeric"]["f00000"]["counts"] == [5] * 10
    assert found["matrix"].shape == (50, len(columns.features))
    # Quadratic, these took minutes on 3,000 columns (the identity hash alone ~2 min).
    assert seconds < 15, f"the per-column steps of 50 × 3,002 columns took {seconds:.1f} s"


@pytest.mark.parametrize("width", [200, 800])
def test_the_steps_build_a_frames_schema_as_often_whatever_its_width(tmp_path, monkeypatch, width):
    built = []
    schema = pl.DataFrame.schema

    def counted(frame):
        built.append(frame.width)
        return schema.fget(frame)

    monkeypatch.setattr(pl.DataFrame, "schema", property(counted))

    _per_column_steps(_wide(20, width), tmp_path)

    # Once per step or so, not once per column.
    assert len(built) < 20

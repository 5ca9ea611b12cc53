"""The k-NN memory estimate refuses a resampling that cannot fit, before building arrays."""

import pytest

from rebalance.errors import SamplerError
from tasks.core.columns import Columns
from tasks.tabular import memory_guard
from tasks.tabular.memory_guard import refuse_if_too_large, resample_bytes
from tasks.tabular.resample import rebalance_table
from tests.helpers import loans_frame, numeric_frame


def test_estimate_counts_the_matrix_its_copy_the_output_and_the_new_rows():
    # 1M rows × 20 float columns, 940k new rows: 160 MB per copy of the input.
    assert resample_bytes(1_000_000, 160, 940_000) == 160 * (3_000_000 + 2 * 940_000)


def test_refusal_names_the_sampler_the_sizes_and_the_options():
    with pytest.raises(SamplerError) as error:
        refuse_if_too_large(
            sampler="SMOTE", rows=50_000_000, row_bytes=160, new_rows=45_000_000, available=2**33
        )
    message = str(error.value)
    assert "SMOTE on 50,000,000 training rows (45,000,000 new)" in message
    assert "8.0 GiB is available" in message
    assert "RandomUnderSampler" in message and "RandomOverSampler" in message


def test_a_run_that_fits_passes_and_returns_the_estimate():
    assert refuse_if_too_large(
        sampler="SMOTE", rows=1000, row_bytes=80, new_rows=500, available=2**30
    ) == resample_bytes(1000, 80, 500)


def test_rebalance_step_refuses_before_resampling_when_memory_is_short(monkeypatch):
    frame = numeric_frame(400)
    columns = Columns(label="y", features=("a", "b", "c"), id_column=None)
    monkeypatch.setattr(memory_guard, "available_bytes", lambda: 10_000)

    with pytest.raises(SamplerError, match=r"SMOTE on 400 training rows \(\d+ new\)"):
        rebalance_table(frame, columns=columns, sampler="SMOTE", params={}, seed=0)


@pytest.mark.parametrize(
    ("sampler", "row_bytes", "grows"),
    [
        ("SMOTE", 8 * 2 + 64 * 2, True),  # runs SMOTENC, on an object matrix
        ("TomekLinks", 8 * (2 + 2 + 3), False),  # one-hot: 2 educations, 3 areas
    ],
)
def test_row_size_follows_the_matrix_the_sampler_gets(monkeypatch, sampler, row_bytes, grows):
    frame = loans_frame(300)
    columns = Columns(
        label="status", features=("income", "amount", "education", "area"), id_column="loan_id"
    )
    seen = {}

    def spy(**kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("tasks.tabular.resample.refuse_if_too_large", spy)
    rebalance_table(frame, columns=columns, sampler=sampler, params={}, seed=0)

    assert seen["row_bytes"] == row_bytes
    assert (seen["new_rows"] > 0) is grows

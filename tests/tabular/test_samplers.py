"""The vectorised SMOTE family runs only on the imblearn and sklearn releases it was checked
against; on any other it steps aside for imblearn's own class, and says so."""

import polars as pl

from tasks.core.columns import Columns
from tasks.tabular import samplers
from tasks.tabular.resample import rebalance_table
from tasks.tabular.vectorised_smote import VectorisedSMOTENC
from tests.helpers import loans_frame

LOANS = Columns(
    label="status", features=("income", "amount", "term", "education", "area"), id_column="loan_id"
)


def _loans():
    return loans_frame(300).with_columns(pl.col("status").str.strip_chars())


def test_the_installed_releases_are_the_checked_ones():
    assert samplers.vectorised_fallback("SMOTENC") is None
    assert isinstance(
        samplers.build_sampler("SMOTENC", {"categorical_features": [0]}, seed=0), VectorisedSMOTENC
    )


def test_another_release_runs_imblearns_class_with_the_same_rows_and_a_note(monkeypatch):
    vectorised = rebalance_table(_loans(), columns=LOANS, sampler="SMOTE", params={}, seed=3)
    installed = dict(samplers.CHECKED_VERSIONS, **{"scikit-learn": "1.10.0"})
    monkeypatch.setattr(samplers.importlib.metadata, "version", installed.__getitem__)

    fallback = rebalance_table(_loans(), columns=LOANS, sampler="SMOTE", params={}, seed=3)

    sampler = samplers.build_sampler("SMOTENC", {"categorical_features": [0]}, seed=0)
    assert type(sampler).__module__.startswith("imblearn.")
    assert fallback.frame.equals(vectorised.frame)
    (note,) = [note for note in fallback.notes if "imbalanced-learn's own class" in note]
    assert "scikit-learn 1.9.1" in note and "scikit-learn 1.10.0 is installed" in note
    assert not any("own class" in note for note in vectorised.notes)

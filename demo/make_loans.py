"""Generate demo/loans.csv: a loan-approval table with an `Approved` minority.

Shaped like the classic loan-prediction data (categorical and numeric columns), with the
flaws real exports have: labels with stray spaces, a few nulls, duplicate rows. Seeded, so
the committed file can be regenerated exactly: `python demo/make_loans.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

ROWS = 2_000
SEED = 7


def make_loans(rows: int = ROWS, seed: int = SEED) -> pl.DataFrame:
    """The demo table; approval depends on credit history, income and loan size."""
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(8.3, 0.55, rows), 0)
    coapplicant = np.where(rng.random(rows) < 0.45, 0.0, np.round(rng.lognormal(7.4, 0.7, rows)))
    amount = np.round(np.clip(rng.normal(140, 60, rows), 20, 600), 0)
    credit = (rng.random(rows) < 0.82).astype(np.int64)
    education = rng.choice(["Graduate", "Not Graduate"], rows, p=[0.75, 0.25])
    area = rng.choice(["Urban", "Semiurban", "Rural"], rows, p=[0.35, 0.4, 0.25])
    score = (
        2.2 * credit
        + 0.9 * np.log((income + coapplicant) / amount / 40)
        + 0.5 * (education == "Graduate")
        + 0.4 * (area == "Semiurban")
        - 4.0
        + rng.normal(0, 0.7, rows)
    )
    status = np.where(score > 0, "Approved", "Rejected")
    frame = pl.DataFrame(
        {
            "Loan_ID": [f"LP{100000 + index}" for index in range(rows)],
            "Gender": rng.choice(["Male", "Female"], rows, p=[0.8, 0.2]),
            "Married": rng.choice(["Yes", "No"], rows, p=[0.65, 0.35]),
            "Dependents": rng.choice(["0", "1", "2", "3+"], rows, p=[0.57, 0.17, 0.17, 0.09]),
            "Education": education,
            "Self_Employed": rng.choice(["No", "Yes"], rows, p=[0.86, 0.14]),
            "ApplicantIncome": income,
            "CoapplicantIncome": coapplicant,
            "LoanAmount": amount,
            "Loan_Amount_Term": rng.choice([360, 180, 480, 300, 240, 120], rows).astype(np.int64),
            "Credit_History": credit,
            "Property_Area": area,
            "Loan_Status": status,
        }
    )
    # Real exports: " Approved" with a stray space, some missing incomes, a duplicated row.
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 97 == 3)
        .then(" " + pl.col("Loan_Status"))
        .otherwise(pl.col("Loan_Status"))
        .alias("Loan_Status"),
        pl.when(pl.int_range(pl.len()) % 211 == 5)
        .then(None)
        .otherwise(pl.col("LoanAmount"))
        .alias("LoanAmount"),
    )
    duplicates = frame[10:14].with_columns(pl.col("Loan_ID") + "-dup")
    return pl.concat([frame, duplicates])


if __name__ == "__main__":
    path = Path(__file__).with_name("loans.csv")
    make_loans().write_csv(path)
    print(path)

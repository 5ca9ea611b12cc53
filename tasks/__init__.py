"""The pipeline's work. `steps` holds the flow's Prefect tasks; `registry` finds a modality
(`tabular`, `images`, `text`) by name; `run` holds what every run shares (split, manifest,
report, run folder); `core` is the contract and helpers all of them build on."""

import rebalance  # noqa: F401  (sets environment defaults before Prefect is imported)

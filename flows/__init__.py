"""Prefect flows: they compose tasks and hold no data logic."""

import rebalance  # noqa: F401  (sets environment defaults before Prefect is imported)

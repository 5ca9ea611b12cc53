"""Pipeline steps: plain typed functions, each wrapped by a thin Prefect task."""

import rebalance  # noqa: F401  (sets environment defaults before Prefect is imported)

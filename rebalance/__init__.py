"""rebalance: validate, split and rebalance imbalanced classification data with Prefect."""

from rebalance.environment import apply_defaults

__version__ = "0.1.0"

# Before anything imports Prefect: its settings are read once, at import.
apply_defaults()

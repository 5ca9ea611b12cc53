"""Errors that mean "the input or the config is wrong": never retried, shown as one line."""

# Prefix of the note the flow adds to an unexpected exception, naming the step it came from.
STEP_NOTE = "rebalance step: "


class RebalanceError(Exception):
    """Base class for errors a user fixes by changing their data or config.

    The message is one sentence that names the file, column, class or parameter at
    fault and what to do. Prefect tasks do not retry these (see `tasks.policy`), and
    the CLI prints the message alone, without a traceback.
    """


class ConfigError(RebalanceError):
    """The config file or a `--set` override is invalid."""


class DataError(RebalanceError):
    """The input data cannot be used as it is (missing, unreadable, too few rows...)."""


class ValidationFailed(DataError):
    """The data failed a validation check (nulls, bad files) under a `fail` policy."""


class SamplerError(RebalanceError):
    """The sampler name or its parameters cannot work on this data."""

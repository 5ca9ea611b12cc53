"""The shared core every modality builds on: the modality contract, columns and frames,
source tables, per-class counts and targets, the retry policy and the one fan-out helper.

It imports nothing else of the pipeline (`rebalance.errors` and `rebalance.faults` aside):
every other package may import it.
"""

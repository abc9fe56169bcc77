"""Baselines; importing this package registers each one in ralis.methods.METHODS."""

from ralis.baselines import meanfusion  # noqa: F401

"""Baselines; importing this package registers each one in ralis.methods.METHODS."""

from ralis.baselines import cmc, cocoa, confu, flexmoe, fusemoe, gmu, meanfusion, shaspec  # noqa: F401

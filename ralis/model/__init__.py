"""The RALIS model (paper §4): encoder, MagNorm, fusion, contrastive losses, MoE head.

Importing this package registers RALIS as `train.method: ralis` (ralis.methods.METHODS).
"""

from ralis.model import ralis  # noqa: F401  (registers "ralis")

"""ralis: reproducible companion to RALIS (arXiv 2602.08755), multiview HAR with arbitrarily missing views."""

__version__ = "0.1.0"

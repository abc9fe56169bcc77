"""Magnitude normalisation, Eq. (13): MagNorm(z) = z / ||z|| * sqrt(dim(z))."""

from __future__ import annotations

import math

import torch

__all__ = ["magnorm"]


def magnorm(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Eq. (13) over the last axis; `eps` guards the all-zero vector (methods.md §1.3)."""
    return z / z.norm(dim=-1, keepdim=True).clamp_min(eps) * math.sqrt(z.shape[-1])

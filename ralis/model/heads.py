"""A single MLP classification head: the "-MoE" ablation of Table 5 [P§5.3; methods.md §1.7]."""

from __future__ import annotations

import torch
from torch import nn

from ralis.model.moe import MoEOutput

__all__ = ["MLPHead"]


class MLPHead(nn.Module):
    """One expert without a gate: Dropout-Linear(D, H)-ReLU-Linear(H, C); returns MoEOutput with no gate fields."""

    def __init__(self, dim: int, n_classes: int, hidden: int = 128, dropout: float = 0.5):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> MoEOutput:  # x: [B, D]
        return MoEOutput(self.net(x), None, None, None, None)

"""A single MLP classification head: the "-MoE" ablation of Table 5 [P§5.3; methods.md §1.7]."""

from __future__ import annotations

import torch
from torch import nn

from ralis.config import ModelConfig
from ralis.model.moe import MoEOutput

__all__ = ["MLPHead"]


class MLPHead(nn.Module):
    """One expert without a gate: Dropout-Linear(D, H)-ReLU-Linear(H, C); returns MoEOutput with no gate fields."""

    def __init__(self, n_classes: int, cfg: ModelConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.width, cfg.expert_hidden), nn.ReLU(),
                                 nn.Linear(cfg.expert_hidden, n_classes))

    def forward(self, x: torch.Tensor) -> MoEOutput:  # x: [B, D]
        return MoEOutput(self.net(x), None, None, None, None)

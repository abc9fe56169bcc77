"""Gated Multimodal Unit (Arevalo et al. 2017), M-modal form, over per-view ResNet1D embeddings (methods.md §3).

    h_v = tanh(W_v x_v),   g_v = sigmoid(W_{g,v} [x_1; ...; x_V]),   h = sum_{v in S} g_v * h_v,   y = MLP(h)
A missing view enters the gate input as zeros and its gate is forced to 0, so it never reaches h. With
`baselines.gmu.renorm` the sum is divided elementwise by sum_{v in S} g_v (a gated mean); default off, as in GMU.
Trained with CE on the fused prediction only; `baselines.gmu.random_subset` trains on random view subsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ralis.baselines.common import random_view_subset
from ralis.config import LossConfig, ModelConfig, Params
from ralis.contract import MultiviewBatch, ViewSpec, check_embeddings
from ralis.methods import LossTerms, MultiviewMethod, method_settings, register
from ralis.model.bank import EncoderBank

__all__ = ["GMUConfig", "GMU", "build_gmu"]


@dataclass(frozen=True)
class GMUConfig:
    """params.yaml `baselines.gmu`."""

    renorm: bool = False  # divide the gated sum by the sum of present gates (methods.md §3)
    random_subset: bool = False  # train on random view subsets (methods.md §3 "for fairness")


class GMU(MultiviewMethod):
    """Per-view encoders -> gated multimodal unit -> MLP classifier."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 cfg: GMUConfig):
        super().__init__(views, n_classes)
        m, d, v = model, model.width, len(views)
        self.encoders = EncoderBank(views, m, magnorm=False)
        self.proj = nn.ModuleList(nn.Linear(d, d) for _ in range(v))  # W_v
        self.gate = nn.Linear(v * d, v * d)  # all W_{g,v} stacked: [x_1; ...; x_V] -> [g_1; ...; g_V]
        self.head = nn.Sequential(nn.Dropout(m.dropout), nn.Linear(d, m.expert_hidden), nn.ReLU(),
                                  nn.Linear(m.expert_hidden, n_classes))
        self.renorm, self.random_subset = cfg.renorm, cfg.random_subset
        self.w_cls = loss.w_cls

    def encode(self, batch: MultiviewBatch) -> torch.Tensor:
        """Raw encoder outputs x_v, z [V, N, D], zeros where missing."""
        return self.encoders(batch.views, batch.present)

    def fuse(self, z: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """GMU fusion: returns h [N, D] and the gates g [V, N, D] (0 for missing views)."""
        check_embeddings(z, present)
        v, n, d = z.shape
        m = present.T[..., None]  # [V, N, 1]
        x = torch.where(m, z, torch.zeros_like(z))  # [V, N, D], missing x = 0
        h_v = torch.stack([torch.tanh(p(x[i])) for i, p in enumerate(self.proj)])  # [V, N, D]
        g = torch.sigmoid(self.gate(x.transpose(0, 1).reshape(n, v * d)))  # [N, V*D]
        g = g.view(n, v, d).transpose(0, 1) * m  # [V, N, D], forced to 0 where missing
        h = (g * h_v).sum(0)  # [N, D]
        if self.renorm:
            h = h / g.sum(0).clamp_min(1e-6)
        return h, g

    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return self.head(self.fuse(z, present)[0])  # [N, n_classes]

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        """CE of the fused prediction on the classification rows (one encoder pass over cls + con rows)."""
        z = self.encode(cls.cat(con))[:, : len(cls)]  # [V, N_cls, D]
        present = random_view_subset(cls.present) if self.random_subset else cls.present
        h, g = self.fuse(z, present)
        loss = F.cross_entropy(self.head(h), cls.labels)
        gate_mean = (g.sum((1, 2)) / (present.sum(0) * g.shape[2]).clamp_min(1)).detach()  # [V] mean gate per view
        return LossTerms(total=self.w_cls * loss, terms={"cls": float(loss.detach())}, logs={"gmu_gates": gate_mean})


@register("gmu", GMUConfig)
def build_gmu(views: Sequence[ViewSpec], n_classes: int, params: Params) -> GMU:
    return GMU(views, n_classes, params.model, params.loss, method_settings("gmu", params))

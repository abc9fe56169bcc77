"""Attention-based view fusion, Eqs. (8)-(9), followed by MagNorm (Eq. 13) [P§4.2; methods.md §1.4].

Dimension legend: V views, N samples, D embedding width, H attention hidden size. Embeddings are z [V, N, D]
(view first); the presence mask is present [N, V]; view weights are w [V, N] (0 where a view is missing).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ralis.config import AblationConfig, ModelConfig
from ralis.contract import check_embeddings
from ralis.model.magnorm import magnorm

__all__ = ["FusionOutput", "masked_softmax", "mean_weights", "AttentionFusion"]


class FusionOutput(NamedTuple):
    """`fused` [N, D] (z^(wf)) and the view weights `weights` [V, N] that produced it."""

    fused: torch.Tensor
    weights: torch.Tensor


def masked_softmax(scores: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Softmax over the present views only, Eq. (8): scores [V, N], present [N, V] -> w [V, N], 0 where missing."""
    m = present.T  # [V, N]
    w = scores.masked_fill(~m, torch.finfo(scores.dtype).min).softmax(dim=0)  # finite fill: no NaN
    return torch.where(m, w, torch.zeros_like(w))


def mean_weights(present: torch.Tensor) -> torch.Tensor:
    """Uniform weights 1/n_i over the present views ("-attention", mean fusion): present [N, V] -> [V, N]."""
    m = present.T.float()  # [V, N]
    return m / m.sum(0, keepdim=True).clamp_min(1)


class AttentionFusion(nn.Module):
    """z^(wf) = MagNorm(sum_v w^(v) z^(v)) with w = masked softmax of a shared MLP on sg(z), Eqs. (8)-(9).

    Switches (Table 5, `ablation`): `attention=False` -> mean fusion; `stop_grad=False` -> the MLP sees z with
    gradients; `magnorm=False` -> the fused vector is not normalised. Sizes from `model`: width D, att_hidden H.
    """

    def __init__(self, cfg: ModelConfig, ablation: AblationConfig):
        super().__init__()
        self.attention, self.stop_grad, self.magnorm = ablation.attention, ablation.stop_grad, ablation.magnorm
        # Linear(D, H) - ReLU - Linear(H, 1), shared across views (A15)
        self.mlp = nn.Sequential(nn.Linear(cfg.width, cfg.att_hidden), nn.ReLU(),
                                 nn.Linear(cfg.att_hidden, 1)) if self.attention else None

    def view_weights(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """w [V, N], Eq. (8): each view scored independently, softmax over the views present in each sample."""
        if self.mlp is None:
            return mean_weights(present).to(z.dtype)
        scores = self.mlp(z.detach() if self.stop_grad else z).squeeze(-1)  # [V, N]
        return masked_softmax(scores, present)

    def forward(self, z: torch.Tensor, present: torch.Tensor) -> FusionOutput:
        check_embeddings(z, present)
        z = torch.where(present.T[..., None], z, torch.zeros_like(z))  # missing values never reach the output
        w = self.view_weights(z, present)  # [V, N]
        fused = (w[..., None] * z).sum(0)  # [N, D], Eq. (9)
        return FusionOutput(magnorm(fused) if self.magnorm else fused, w)

"""Token-level MoE feed-forward layer for the MoE baselines (Flex-MoE, FuseMoE): router logits, noisy top-K
routing from any clean logits, group balance losses, and a bank of FFN experts.

The noisy top-K rule and the smooth load are those of ralis.model.moe (Shazeer et al. 2017, methods.md §1.6);
this module only lets the clean logits come from a different router (FuseMoE's Laplace gate, Eq. "-||x - w_e||")
and keeps the per-token routing so that balance losses can be taken over groups of tokens (Flex-MoE).

Dimension legend: B tokens, D token width, E experts, K experts kept per token, H expert hidden size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ralis.model.moe import Routing, balance_loss, importance, noisy_top_k, smooth_load

__all__ = ["Routing", "RouterLogits", "laplace_distance", "noisy_top_k", "routing_balance", "ExpertFFN"]

GATINGS = ("softmax", "laplace")


class RouterLogits(nn.Module):
    """Clean router logits and the noise scale: 'softmax' x W_g (Shazeer; Flex-MoE) or 'laplace' -||x - w_e||_2
    (FuseMoE). W_g and W_noise start at zero as in Shazeer et al. / fastmoe / FuseMoE."""

    def __init__(self, dim: int, n_experts: int, gating: str, noise_eps: float):
        super().__init__()
        if gating not in GATINGS:
            raise ValueError(f"gating must be one of {GATINGS} (params.yaml baselines.fusemoe.gating), got {gating!r}")
        self.gating, self.noise_eps = gating, noise_eps
        self.w_gate = nn.Parameter(torch.zeros(dim, n_experts))  # for 'laplace': column e is the key w_e
        self.w_noise = nn.Parameter(torch.zeros(dim, n_experts))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # x: [B, D] -> clean, std [B, E]
        if self.gating == "laplace":
            clean = -laplace_distance(x, self.w_gate.T)  # [B, E]
        else:
            clean = x @ self.w_gate  # [B, E]
        std = F.softplus(x @ self.w_noise) + self.noise_eps  # [B, E], the noise network
        return clean, std


def laplace_distance(x: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """||x_b - w_e||_2 for x [B, D] and keys [E, D] -> [B, E] (a tiny floor keeps the gradient finite at 0)."""
    sq = (x[:, None, :] - keys[None, :, :]).pow(2).sum(-1)  # [B, E]
    return (sq + 1e-12).sqrt()


def routing_balance(r: Routing, rows: torch.Tensor | None = None, experts: slice = slice(None)) -> torch.Tensor:
    """CV^2(importance) + CV^2(load), Eq. (12), over the tokens `rows` (bool [B]) and the experts `experts`."""
    if rows is None:
        rows = torch.ones(r.gates.shape[0], dtype=torch.bool, device=r.gates.device)
    if not bool(rows.any()):
        return r.gates.new_zeros(())
    gates = r.gates[rows]
    if r.std is not None and r.k < r.gates.shape[1]:
        load = smooth_load(r.clean[rows], r.noisy[rows], r.std[rows], r.top_values[rows], r.k)  # [E]
    else:
        load = (gates > 0).sum(0).to(gates.dtype)  # exact count without noise
    return balance_loss(importance(gates)[experts], load[experts])


class ExpertFFN(nn.Module):
    """E feed-forward experts Linear(D, H) - GELU - Dropout - Linear(H, D), stored stacked and run densely:
    y = sum_e gates_e Expert_e(x) equals sparse dispatch because the gates are zero outside the top K."""

    def __init__(self, n_experts: int, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(n_experts, dim, hidden))
        self.b1 = nn.Parameter(torch.empty(n_experts, hidden))
        self.w2 = nn.Parameter(torch.empty(n_experts, hidden, dim))
        self.b2 = nn.Parameter(torch.empty(n_experts, dim))
        self.dropout = nn.Dropout(dropout)
        for w, b, fan_in in ((self.w1, self.b1, dim), (self.w2, self.b2, hidden)):  # nn.Linear's default init
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)

    def forward(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:  # x [B, D], gates [B, E] -> [B, D]
        h = x.unsqueeze(0).expand(self.w1.shape[0], -1, -1)  # [E, B, D]
        h = self.dropout(F.gelu(torch.baddbmm(self.b1[:, None, :], h, self.w1)))  # [E, B, H]
        y = torch.baddbmm(self.b2[:, None, :], h, self.w2)  # [E, B, D]
        return torch.einsum("be,ebd->bd", gates, y)
